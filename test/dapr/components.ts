/**
 * The suites every state component runs beyond the conformance suite, written once: the tag
 * scenarios on a daprd of their own, and the replica scenarios with six daprds on one server.
 */
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd, StartDaprdOptions } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeReplicaScenarios } from '../replicas/scenarios.js'
import { describeTags } from '../tagScenarios.js'
import { raw } from './helpers.js'

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
export const describeSixDaprds = (label: string, options: StartDaprdOptions, share: (owner: Daprd) => StartDaprdOptions): void => {
  let daprds: ReadonlyArray<Daprd> = []
  beforeAll(async () => {
    const owner = await startDaprd({ pubsubs: [], ...options })
    daprds = [owner, ...(await Promise.all(Array.from({ length: 5 }, () => startDaprd({ pubsubs: [], ...options, ...share(owner) }))))]
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
  }))
}
