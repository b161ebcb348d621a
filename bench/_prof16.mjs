import { Pool } from 'undici'
import { daprStore } from 'dapr-state-cache'
import { startDaprd } from 'dapr-state-cache/testing'
import { load } from './lib.mjs'
const daprd = await startDaprd({ flavour: 'redis', pubsubs: [] })
const batched = daprStore({ daprUrl: daprd.url, env: {}, connections: 64, batch: true })
const pool = new Pool(daprd.url, { connections: 64, pipelining: 1 })
const value = Buffer.from(JSON.stringify({ id: 1, name: 'a row of fifteen fields or so', tags: ['x', 'y'] }))
for (let i = 0; i < 4096; i += 256) await Promise.all(Array.from({ length: 256 }, (_, j) => batched.set(`hit:${i + j}`, value, 3600)()))
const read = async (key) => { const got = await batched.get(key)(); if (got._tag === 'Left') throw new Error(got.left.message) }
const bulk = async (i) => {
  const keys = Array.from({ length: 16 }, (_, j) => `hit:${(i * 16 + j) % 4096}`)
  const answer = await pool.request({ method: 'POST', path: '/v1.0/state/cache/bulk', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys, parallelism: 16 }) })
  await answer.body.text()
}
const mode = process.argv[2]
const floor = async (i) => { const a = await pool.request({ method: 'GET', path: `/v1.0/state/cache/hit%3A${i % 4096}` }); await a.body.arrayBuffer() }
for (let r = 0; r < 3; r++) {
  if (mode !== 'batched') { const c = await load(bulk, { concurrency: 1, ms: 2000 }); console.log('ceiling', Math.round(c.rps * 16), 'cpuUs/key', (c.cpuUs/16).toFixed(1)) }
  { const f = await load(floor, { concurrency: 16, ms: 2000 }); console.log('floor', Math.round(f.rps), 'p99', f.p99) }
  if (mode !== 'ceiling') { const b = await load((i) => read(`hit:${i % 4096}`), { concurrency: 16, ms: 2000 }); console.log('batched', Math.round(b.rps), 'cpuUs', b.cpuUs.toFixed(1), 'p99', b.p99) }
}
await pool.close(); await batched.close(); await daprd.close()
