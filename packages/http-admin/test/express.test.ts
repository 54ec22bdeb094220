// The mount contract on Express, on each store.
import { describeMountContract } from './mount-contract';
import { memoryKit, postgresKit, redisKit, sqliteKit } from './support';

describeMountContract('express', memoryKit());
describeMountContract('express', sqliteKit());
describeMountContract('express', postgresKit('oasis_ha_ex_'));
describeMountContract('express', redisKit('oasis-ha-ex'));
