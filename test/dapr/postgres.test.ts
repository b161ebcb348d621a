/**
 * The Dapr store on `state.postgresql` (v2) over a private PostgreSQL server: the store conformance
 * suite (ETags and first-write, TTLs in real time, bulk operations), as on the other components,
 * and the replica scenarios (the lease across six replica processes computing once, invalidation
 * that wins, refresh ahead, the tier) with six daprds on one PostgreSQL, the tag scenarios (the
 * versioned index on ETags and first-write, transactions of deletes), and a restart under load.
 */
import { describeComponent } from './components.js'

describeComponent(
  'postgres',
  'PostgreSQL',
  (owner) => ({ postgresConnection: owner.postgres?.connectionString }),
  (daprd) => daprd.postgres,
)
