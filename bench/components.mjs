// Section 17 of `npm run bench`: each Dapr state component we test on, on real daprd: a cached
// function's hit and miss against the floor (undici to the same daprd: a GET; a GET that finds
// nothing then a save), one caller and 16, p50 and requests per second; whether the component
// reports TTL and ETAG in /v1.0/metadata; and the largest value that round-trips through the
// Dapr store (1, 2, 3 MiB: the store's own limit is 3 MiB, for the sidecar's 4 MiB body). MongoDB
// is FerretDB over PostgreSQL with DocumentDB; a machine without DocumentDB gets a row saying so.
import { Pool } from 'undici'
import { cacheable, daprStore, msgpackSerializer } from 'dapr-state-cache'
import { startDaprd } from 'dapr-state-cache/testing'
import { interleaved, load, median, quick } from './lib.mjs'

export const FLAVOURS = ['in-memory', 'redis', 'redis-cluster', 'postgres', 'mongodb']
const MIB = 1024 * 1024

const measure = async (flavour) => {
  const daprd = await startDaprd({ flavour, pubsubs: [] })
  const pool = new Pool(daprd.url, { connections: 16, pipelining: 1 })
  const store = daprStore({ daprUrl: daprd.url, env: {}, connections: 16 })
  const silent = { warn: () => undefined }
  try {
    const metadata = JSON.parse(await (await pool.request({ method: 'GET', path: '/v1.0/metadata' })).body.text())
    const capabilities = metadata.components?.find((component) => component.name === 'cache')?.capabilities ?? []
    const value = 'x'.repeat(200)
    const wire = Buffer.from(msgpackSerializer().serialize(value)).toString('base64')
    const keys = Array.from({ length: 100 }, (_, i) => `bench:component:${i}`)
    await (await pool.request({ method: 'POST', path: '/v1.0/state/cache', headers: { 'content-type': 'application/json' }, body: JSON.stringify(keys.map((key) => ({ key, value: wire }))) })).body.text()
    let run = 0
    const missKey = (who, i) => `bench:component:miss:${who}:${run}:${i}`
    const get = async (key) => {
      const answer = await pool.request({ method: 'GET', path: `/v1.0/state/cache/${encodeURIComponent(key)}` })
      await answer.body.text()
      return answer.statusCode
    }
    const hit = cacheable({ store, logger: silent, keyBuilder: { buildKey: (_name, args) => keys[args[0] % keys.length] } })(async function component() {
      throw new Error('a hit never computes')
    })
    const miss = cacheable({ store, logger: silent, ttlSeconds: 60, keyBuilder: { buildKey: (_name, args) => missKey('ours', args[0]) } })(async function component() {
      return value
    })
    const contenders = [
      { name: 'floor hit', run: (i) => get(keys[i % keys.length]) },
      { name: 'ours hit', run: (i) => hit(i) },
      {
        name: 'floor miss',
        run: async (i) => {
          const key = missKey('floor', i)
          if ((await get(key)) === 204) {
            const saved = await pool.request({ method: 'POST', path: '/v1.0/state/cache', headers: { 'content-type': 'application/json' }, body: `[{"key":${JSON.stringify(key)},"value":"${wire}","metadata":{"ttlInSeconds":"60"}}]` })
            await saved.body.text()
          }
        },
      },
      { name: 'ours miss', run: (i) => miss(i) },
    ]
    const ms = quick ? 300 : 1000
    const reps = quick ? 2 : 3
    const rows = {}
    for (const concurrency of [1, 16]) {
      const runs = await interleaved(contenders, reps, ({ run: fn }) => {
        run++
        return load(fn, { concurrency, ms })
      })
      for (const { name } of contenders) rows[`${name} ${concurrency}`] = { p50: median(runs.get(name).map((r) => r.p50)), rps: median(runs.get(name).map((r) => r.rps)) }
    }
    let largest = 0
    for (const size of [1, 2, 3]) {
      const bytes = new Uint8Array(size * MIB - 64).fill(size)
      const written = await store.set(`bench:component:large:${size}`, bytes, 60)()
      const read = await store.get(`bench:component:large:${size}`)()
      if (written._tag === 'Right' && read._tag === 'Right' && read.right._tag === 'Some' && read.right.value.byteLength === bytes.byteLength) largest = size
    }
    return { flavour, ttl: capabilities.includes('TTL'), etag: capabilities.includes('ETAG'), transactional: capabilities.includes('TRANSACTIONAL'), largestMiB: largest, rows }
  } finally {
    await pool.close()
    await store.close()
    await daprd.close()
  }
}

export const componentsBench = async () => {
  const results = []
  for (const flavour of FLAVOURS) {
    try {
      results.push(await measure(flavour))
    } catch (error) {
      // MongoDB needs the DocumentDB extension, which not every machine has: that row says why.
      if (error?.code !== 'E_MONGODB_START') throw error
      results.push({ flavour, missing: error.message.split('\n')[0] })
    }
  }
  return results
}
