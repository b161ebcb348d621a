// Section 16 of `npm run bench`: hit and miss time against value size on real daprd with Redis, for
// the chart in docs/benchmarks.md. One caller, values of 100 B to 1 MiB (a string, MessagePack), the
// cached function against the floor (undici to the same daprd: a GET for a hit; a GET that finds
// nothing, then a save, for a miss). Medians of the p50 of interleaved runs.
import { Pool } from 'undici'
import { cacheable, daprStore, msgpackSerializer } from 'dapr-state-cache'
import { startDaprd } from 'dapr-state-cache/testing'
import { interleaved, load, median, quick } from './lib.mjs'

export const SIZES = quick ? [100, 10_000, 1_000_000] : [100, 1_000, 10_000, 100_000, 300_000, 1_000_000]

export const valueSizeBench = async () => {
  const daprd = await startDaprd({ flavour: 'redis', pubsubs: [] })
  const pool = new Pool(daprd.url, { connections: 4, pipelining: 1 })
  const store = daprStore({ daprUrl: daprd.url, env: {}, connections: 4 })
  const silent = { warn: () => undefined }
  const ms = quick ? 300 : 1000
  const reps = quick ? 2 : 5
  const rows = []
  let run = 0
  try {
    for (const size of SIZES) {
      const value = 'x'.repeat(size)
      const wire = Buffer.from(msgpackSerializer().serialize(value)).toString('base64')
      const hitKey = `bench:size:${size}`
      await (await pool.request({ method: 'POST', path: '/v1.0/state/cache', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ key: hitKey, value: wire }]) })).body.text()
      const get = async (key) => {
        const answer = await pool.request({ method: 'GET', path: `/v1.0/state/cache/${encodeURIComponent(key)}` })
        const text = await answer.body.text()
        return answer.statusCode === 200 ? Buffer.from(JSON.parse(text), 'base64') : undefined
      }
      const missKey = (who, i) => `bench:size:miss:${who}:${size}:${run}:${i}`
      const hit = cacheable({ store, logger: silent, keyBuilder: { buildKey: () => hitKey } })(async function sized() {
        throw new Error('a hit never computes')
      })
      const miss = cacheable({ store, logger: silent, ttlSeconds: 60, keyBuilder: { buildKey: (_name, args) => missKey('ours', args[0]) } })(async function sized() {
        return value
      })
      const contenders = [
        { name: 'floor hit', run: () => get(hitKey) },
        { name: 'ours hit', run: (i) => hit(i) },
        {
          name: 'floor miss',
          run: async (i) => {
            const key = missKey('floor', i)
            if ((await get(key)) === undefined) {
              const saved = await pool.request({ method: 'POST', path: '/v1.0/state/cache', headers: { 'content-type': 'application/json' }, body: `[{"key":${JSON.stringify(key)},"value":"${wire}","metadata":{"ttlInSeconds":"60"}}]` })
              await saved.body.text()
            }
          },
        },
        { name: 'ours miss', run: (i) => miss(i) },
      ]
      const runs = await interleaved(contenders, reps, ({ run: fn }) => {
        run++
        return load(fn, { concurrency: 1, ms })
      })
      const p50 = (name) => median(runs.get(name).map((result) => result.p50))
      rows.push({ size, floorHit: p50('floor hit'), oursHit: p50('ours hit'), floorMiss: p50('floor miss'), oursMiss: p50('ours miss') })
    }
    return rows
  } finally {
    await pool.close()
    await store.close()
    await daprd.close()
  }
}
