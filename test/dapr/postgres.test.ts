/**
 * The Dapr store on `state.postgresql` (v2) over a private PostgreSQL server: the store conformance
 * suite (ETags and first-write, TTLs in real time, bulk operations), as on the other components.
 */
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeStore } from '../storeConformance.js'
import { sleep } from './helpers.js'

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
