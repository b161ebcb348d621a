/**
 * The suites every state component runs, written once: the store conformance suite, the tag
 * scenarios on a daprd of their own, the replica scenarios with six daprds on one server, and a
 * restart of the server under load.
 */
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd, Flavour, StartDaprdOptions } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeReplicaScenarios } from '../replicas/scenarios.js'
import { describeStore } from '../storeConformance.js'
import { describeTags } from '../tagScenarios.js'
import { raw, sleep, startMany } from './helpers.js'
import type { Restartable } from './restartUnderLoad.js'
import { itRestartsUnderLoad } from './restartUnderLoad.js'

/** The tag scenarios, each on a daprd of its own started with `options`. */
export const describeTagsOn = (label: string, options: StartDaprdOptions): void =>
  describeTags(label, async () => {
    const daprd = await startDaprd({ pubsubs: [], ...options })
    const store = daprStore({ daprUrl: daprd.url, env: {} })
    return {
      store,
      close: async () => {
        await store.close()
        await daprd.close()
      },
    }
  })

/**
 * The replica scenarios with six daprds on one server: the first starts it, `share` gives the
 * others the options that point them at it.
 */
export const describeSixDaprds = (label: string, options: StartDaprdOptions, share: (owner: Daprd) => StartDaprdOptions, expiredLeaseBlocks = false): void => {
  let daprds: ReadonlyArray<Daprd> = []
  beforeAll(async () => {
    const owner = await startDaprd({ pubsubs: [], ...options })
    daprds = [owner]
    daprds = [owner, ...(await startMany(5, () => startDaprd({ pubsubs: [], ...options, ...share(owner) })))]
  }, 120_000)
  afterAll(async () => {
    // The owner last: the others point at its server.
    await Promise.all(daprds.slice(1).map((daprd) => daprd.close()))
    await daprds[0]?.close()
  })
  describeReplicaScenarios(label, () => ({
    url: (index) => (daprds[index % daprds.length] as Daprd).url,
    stored: async (key) => {
      const answer = await raw((daprds[0] as Daprd).url, 'GET', `/v1.0/state/cache/${encodeURIComponent(key)}`)
      return answer.status === 200 ? answer.body : undefined
    },
    expiredLeaseBlocks,
  }))
}

/**
 * Every suite on the component of `flavour`: `title` names its server in the titles, `share` points
 * other daprds at a daprd's server, `server` is the private server to restart.
 */
export const describeComponent = (
  flavour: Flavour,
  title: string,
  share: (owner: Daprd) => StartDaprdOptions,
  server: (daprd: Daprd) => Restartable | undefined,
): void => {
  describe(`daprStore on real daprd (${flavour})`, () => {
    let daprd: Daprd
    beforeAll(async () => {
      daprd = await startDaprd({ flavour, pubsubs: [] })
    }, 60_000)
    afterAll(async () => {
      await daprd.close()
    })

    describeStore(`daprStore on real daprd (${flavour})`, async () => {
      const store = daprStore({ daprUrl: daprd.url, env: {}, breaker: false })
      // daprd's clock is the real one: time passes by waiting, and checks keep clear of a TTL's end.
      return { store, elapse: sleep, marginMs: 600, teardown: () => store.close() }
    })
  })

  describe(`six daprds on one ${title}`, () => {
    // state.mongodb keeps an expired lease in the way of a first-write until its TTL monitor runs.
    describeSixDaprds(`six daprds, one ${title}`, { flavour }, share, flavour === 'mongodb')
  })

  describe(`real daprd (${flavour}), tags`, () => {
    describeTagsOn(`real daprd, ${flavour}`, { flavour })
  })

  describe(`real daprd (${flavour}), the server restarted under load`, () => {
    itRestartsUnderLoad(flavour, async () => {
      const daprd = await startDaprd({ flavour, pubsubs: [] })
      const started = server(daprd)
      if (started === undefined) throw new Error(`startDaprd started no private server for ${flavour}`)
      return { daprd, server: started }
    })
  })
}
