/**
 * The Dapr store on `state.redis` in cluster mode, over a private Redis Cluster of three primaries
 * (the way users outgrow one Redis): the store conformance suite, the replica scenarios with six
 * daprds on one cluster (the lease computing once across six processes), and the tag scenarios.
 * A transaction's keys must share a hash slot there: the store's `deleteMany` learns it from the
 * first CROSSSLOT answer and deletes key by key from then on.
 */
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeStore } from '../storeConformance.js'
import { describeSixDaprds, describeTagsOn } from './components.js'
import { sleep } from './helpers.js'
import { itRestartsUnderLoad } from './restartUnderLoad.js'

describe('daprStore on real daprd (redis-cluster)', () => {
  let daprd: Daprd
  beforeAll(async () => {
    daprd = await startDaprd({ flavour: 'redis-cluster', pubsubs: [] })
  }, 60_000)
  afterAll(async () => {
    await daprd.close()
  })

  describeStore('daprStore on real daprd (redis-cluster)', async () => {
    const store = daprStore({ daprUrl: daprd.url, env: {}, breaker: false })
    // daprd's clock is the real one: time passes by waiting, and checks keep clear of a TTL's end.
    return { store, elapse: sleep, marginMs: 300, teardown: () => store.close() }
  })
})

describe('six daprds on one Redis Cluster', () => {
  describeSixDaprds('six daprds, one Redis Cluster', { flavour: 'redis-cluster' }, (owner) => ({ redisHost: owner.redis?.host }))
})

describe('real daprd (redis-cluster), tags', () => {
  describeTagsOn('real daprd, redis-cluster', { flavour: 'redis-cluster' })
})

describe('real daprd (redis-cluster), the server restarted under load', () => {
  itRestartsUnderLoad('redis-cluster', async () => {
    const daprd = await startDaprd({ flavour: 'redis-cluster', pubsubs: [] })
    const server = daprd.redis
    if (server === undefined) throw new Error('startDaprd started no private server')
    return { daprd, server }
  })
})
