/** The cluster scenarios on postgres (see `scenarios.ts`). */
import { clusterScenarios } from './scenarios';

clusterScenarios('postgres');
