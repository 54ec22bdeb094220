/** The cluster scenarios on mariadb (see `scenarios.ts`). */
import { clusterScenarios } from './scenarios';

clusterScenarios('mariadb');
