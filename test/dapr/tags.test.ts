/**
 * The tag scenarios of test/tagScenarios.ts on real daprd, with the in-memory and the Redis state
 * components (a daprd of its own, and a Redis of its own, per scenario): the versioned index (ETags
 * with first-write, If-Match deletes) and the transactions of deletes as the real runtime does them.
 */
import { describeTagsOn } from './components.js'
import { flavours } from './helpers.js'

describe.each(flavours)('real daprd (%s)', (flavour) => {
  describeTagsOn(`real daprd, ${flavour}`, { flavour })
})
