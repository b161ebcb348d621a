/**
 * The Dapr store on `state.postgresql` (v2) over a private PostgreSQL server: the store conformance
 * suite (ETags and first-write, TTLs in real time, bulk operations), as on the other components,
 * and the replica scenarios (the lease across six replica processes computing once, invalidation
 * that wins, refresh ahead, the tier) with six daprds on one PostgreSQL, and the tag scenarios (the
 * versioned index on ETags and first-write, transactions of deletes).
 */
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeStore } from '../storeConformance.js'
import { describeSixDaprds, describeTagsOn } from './components.js'
import { sleep } from './helpers.js'
import { itRestartsUnderLoad } from './restartUnderLoad.js'

describe('daprStore on real daprd (postgres)', () => {
  let daprd: Daprd
  beforeAll(async () => {
    daprd = await startDaprd({ flavour: 'postgres', pubsubs: [] })
  }, 60_000)
  afterAll(async () => {
    await daprd.close()
  })

  describeStore('daprStore on real daprd (postgres)', async () => {
    const store = daprStore({ daprUrl: daprd.url, env: {}, breaker: false })
    // daprd's clock is the real one: time passes by waiting, and checks keep clear of a TTL's end.
    return { store, elapse: sleep, marginMs: 300, teardown: () => store.close() }
  })
})

describe('six daprds on one PostgreSQL', () => {
  describeSixDaprds('six daprds, one PostgreSQL', { flavour: 'postgres' }, (owner) => ({ postgresConnection: owner.postgres?.connectionString }))
})

describe('real daprd (postgres), tags', () => {
  describeTagsOn('real daprd, postgres', { flavour: 'postgres' })
})

describe('real daprd (postgres), the server restarted under load', () => {
  itRestartsUnderLoad('postgres', async () => {
    const daprd = await startDaprd({ flavour: 'postgres', pubsubs: [] })
    const server = daprd.postgres
    if (server === undefined) throw new Error('startDaprd started no private server')
    return { daprd, server }
  })
})
