/** The cluster scenarios on redis (see `scenarios.ts`). */
import { clusterScenarios } from './scenarios';

clusterScenarios('redis');
