// Section 14 of `npm run bench`: tags on real daprd with Redis. What a tag costs a miss (the key
// joins the tag's index before its value is written; the epoch is read before and after), and
// `invalidateTag` over 10,000 keys: its time and the requests it made (each store call is one
// HTTP request to the sidecar; counted by a store wrapper).
import { cacheable, daprStore, invalidateTags } from 'dapr-state-cache'
import { startDaprd } from 'dapr-state-cache/testing'
import { interleaved, median, quick } from './lib.mjs'

/** A store that counts its calls, by method. */
const counting = (store) => {
  const counts = {}
  const wrapped = {}
  for (const [name, member] of Object.entries(store)) {
    wrapped[name] =
      typeof member === 'function' && name !== 'close'
        ? (...args) => {
            counts[name] = (counts[name] ?? 0) + 1
            return member(...args)
          }
        : member
  }
  return { store: wrapped, counts, reset: () => Object.keys(counts).forEach((key) => delete counts[key]) }
}

export const tagsBench = async () => {
  const daprd = await startDaprd({ flavour: 'redis', pubsubs: [] })
  const base = daprStore({ daprUrl: daprd.url, env: {}, connections: 32 })
  try {
    const { store, counts, reset } = counting(base)
    // The cost of a miss: 200 misses one after the other, untagged and tagged, interleaved.
    const plain = cacheable({ store, name: 'bench.untagged', ttlSeconds: 600 })(async (id) => ({ id }))
    const tagged = cacheable({ store, name: 'bench.tagged', ttlSeconds: 600, tags: ([id]) => [`group:${id % 10}`] })(async (id) => ({ id }))
    const reps = quick ? 3 : 7
    let next = 0
    const samples = await interleaved([{ name: 'plain', fn: plain }, { name: 'tagged', fn: tagged }], reps, async ({ fn }) => {
      const started = performance.now()
      for (let i = 0; i < 200; i++) await fn(next++)
      return (performance.now() - started) / 200
    })
    // invalidateTag over `size` keys of one tag, written 100 at a time.
    const size = quick ? 1000 : 10_000
    const big = cacheable({ store, name: 'bench.big', ttlSeconds: 600, tags: () => ['big'] })(async (id) => ({ id }))
    const writeStarted = performance.now()
    for (let start = 0; start < size; start += 100) await Promise.all(Array.from({ length: 100 }, (_, i) => big(start + i)))
    const writeMs = performance.now() - writeStarted
    reset()
    const started = performance.now()
    const result = await invalidateTags(store, 'big')()
    const invalidateMs = performance.now() - started
    if (result._tag !== 'Right') throw new Error(`invalidateTags failed: ${result.left.message}`)
    return {
      missMs: { plain: median(samples.get('plain')), tagged: median(samples.get('tagged')) },
      size,
      writeMs,
      deleted: result.right.deleted,
      invalidateMs,
      requests: { ...counts },
    }
  } finally {
    await base.close()
    await daprd.close()
  }
}
