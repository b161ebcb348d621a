/**
 * The tag scenarios of test/tagScenarios.ts on real daprd, with the in-memory and the Redis state
 * components (a daprd of its own, and a Redis of its own, per scenario): the versioned index (ETags
 * with first-write, If-Match deletes) and the transactions of deletes as the real runtime does them.
 */
import { daprStore } from '../../src/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeTags } from '../tagScenarios.js'
import { flavours } from './helpers.js'

describe.each(flavours)('real daprd (%s)', (flavour) => {
  describeTags(`real daprd, ${flavour}`, async () => {
    const daprd = await startDaprd({ flavour, pubsubs: [] })
    const store = daprStore({ daprUrl: daprd.url, env: {} })
    return {
      store,
      close: async () => {
        await store.close()
        await daprd.close()
      },
    }
  })
})
