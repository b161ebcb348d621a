// Where daprd spends its CPU on the reads of section 15: `node bench/daprd-profile.mjs [bulk|floor]`
// (after `npm run build`). One daprd on Redis with profiling on, 4,096 hits written, then 7 s of
// load: `bulk`, one caller sending bulk reads of 16 keys (the ceiling of batching at 16 callers);
// `floor`, 16 callers each sending one GET per key. daprd's CPU profile of 6 s of it is written
// next to the system's temporary files and summed up with `go tool pprof -top`.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Pool } from 'undici'
import { daprStore } from 'dapr-state-cache'
import { startDaprd } from 'dapr-state-cache/testing'
import { findDaprd } from '../dist/esm/testing/daprd/find.js'
import { freePorts } from '../dist/esm/testing/daprd/processes.js'
import { load, seedHits } from './lib.mjs'

const KEYS = 4096
const BULK = 16
const which = process.argv[2] === 'floor' ? 'floor' : 'bulk'
const [profilePort] = await freePorts(1)
const daprd = await startDaprd({ flavour: 'redis', pubsubs: [], daprdArgs: ['--enable-profiling', '--profile-port', String(profilePort)] })
const store = daprStore({ daprUrl: daprd.url, env: {}, connections: 64, batch: false })
const pool = new Pool(daprd.url, { connections: 64, pipelining: 1 })
try {
  await seedHits(store, KEYS)
  const bulk = async (i) => {
    const keys = Array.from({ length: BULK }, (_, j) => `hit:${(i * BULK + j) % KEYS}`)
    const answer = await pool.request({ method: 'POST', path: '/v1.0/state/cache/bulk', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys, parallelism: BULK }) })
    await answer.body.text()
  }
  const floor = async (i) => {
    const answer = await pool.request({ method: 'GET', path: `/v1.0/state/cache/hit:${i % KEYS}` })
    await answer.body.arrayBuffer()
  }
  const profile = fetch(`http://127.0.0.1:${profilePort}/debug/pprof/profile?seconds=6`).then((answer) => answer.arrayBuffer())
  const run = await load(which === 'floor' ? floor : bulk, { concurrency: which === 'floor' ? BULK : 1, ms: 7000 })
  console.log(`${which}: ${Math.round(run.rps * (which === 'floor' ? 1 : BULK))} keys/s`)
  const file = path.join(os.tmpdir(), `daprd-${which}.pprof`)
  writeFileSync(file, Buffer.from(await profile))
  try {
    console.log(execFileSync('go', ['tool', 'pprof', '-top', '-cum', '-nodecount=25', findDaprd(undefined), file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
  } catch {
    console.log(`the profile is in ${file} (go tool pprof could not read it here)`)
  }
} finally {
  await pool.close()
  await store.close()
  await daprd.close()
}
