// The mount contract on Fastify, on each store.
import { describeMountContract } from './mount-contract';
import { memoryKit, postgresKit, redisKit, sqliteKit } from './support';

describeMountContract('fastify', memoryKit());
describeMountContract('fastify', sqliteKit());
describeMountContract('fastify', postgresKit('oasis_ha_fa_'));
describeMountContract('fastify', redisKit('oasis-ha-fa'));
