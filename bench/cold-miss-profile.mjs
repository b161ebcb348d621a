// `npm run build && node bench/cold-miss-profile.mjs`: where a cold miss spends its work, counted
// rather than timed. Each contender of section 4 runs its cold misses (50,000 new keys per store, as
// in `npm run bench`) under Valgrind's cachegrind, which counts the machine instructions executed by
// every function: the library's compiled JavaScript, V8's builtins and garbage collector, OpenSSL.
// Two runs per contender, of 3 and of 7 stores, and their difference divided by the 200,000 misses
// between them, give instructions per miss with start-up and compilation left out. Node runs with
// `--predictable` (one thread, no concurrent compilation or collection) and fixed seeds, so that a
// run counts the same every time: a change of a few dozen instructions per miss shows, where timings
// on a shared machine move by ten percent from one run to the next.
//
// Instructions are not time (a cache miss costs no instruction), so this says where the work is and
// what a change saved; `npm run bench` says how long it takes. Needs valgrind (Debian: `valgrind`).
//
// `--shape=real` counts the shape users have instead (section 4's second table): each cache made
// once and kept (each round of 50,000 asks keys no round asked before), an async function that
// returns a fresh object per call, and a serializer making bytes per value, the same one given to
// async-cache-dedupe as its transformer.
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const MISSES = 50_000
const contenders = ['function', 'dapr-state-cache', 'async-cache-dedupe']
const real = process.argv.includes('--shape=real')

const at = process.argv.indexOf('run')
if (at > 0) {
  // One contender's cold misses, `stores` times over: what cachegrind counts.
  const [name, stores] = process.argv.slice(at + 1)
  const { byteViews, identitySerializer, row } = await import('./lib.mjs')
  const value = row(1)
  const direct = (i) => (i >= 0 ? value : null)
  const views = byteViews(MISSES)
  const make = async () => {
    if (name === 'function') return async (i) => direct(i)
    if (name === 'dapr-state-cache') {
      const { cacheable, memoryStore } = await import('dapr-state-cache')
      return cacheable({ store: memoryStore({ maxEntries: MISSES + 1 }), logger: { warn: () => undefined }, name: 'cold', serializer: identitySerializer(views) })(direct)
    }
    const { createCache } = await import('async-cache-dedupe')
    const dedupe = createCache({ ttl: 3600, storage: { type: 'memory', options: { size: MISSES + 1 } } })
    dedupe.define('cold', async (i) => direct(i))
    return (i) => dedupe.cold(i)
  }
  const makeKept = async () => {
    const fresh = async (i) => row(i)
    const size = MISSES * Number(stores) + 1
    if (name === 'function') return fresh
    if (name === 'dapr-state-cache') {
      const { cacheable, memoryStore } = await import('dapr-state-cache')
      return cacheable({ store: memoryStore({ maxEntries: size }), logger: { warn: () => undefined }, name: 'real', serializer: identitySerializer() })(fresh)
    }
    const { createCache } = await import('async-cache-dedupe')
    const bytes = identitySerializer()
    const dedupe = createCache({ ttl: 3600, storage: { type: 'memory', options: { size } }, transformer: { serialize: (v) => bytes.serialize(v), deserialize: (b) => bytes.deserialize(b) } })
    dedupe.define('real', fresh)
    return (i) => dedupe.real(i)
  }
  const kept = real ? await makeKept() : undefined
  for (let s = 0; s < Number(stores); s++) {
    const fn = kept ?? (await make())
    for (let i = s * MISSES; i < (s + 1) * MISSES; i++) await fn(i)
  }
} else {
  const run = promisify(execFile)
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' })
  } catch {
    console.error('valgrind is not installed (Debian: apt-get install valgrind)')
    process.exit(1)
  }
  const self = fileURLToPath(import.meta.url)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cold-miss-profile-'))
  const node = [process.execPath, '--predictable', '--hash-seed=1', '--random-seed=1', self, ...(real ? ['--shape=real'] : []), 'run']
  const count = async (name, stores) => {
    const out = path.join(dir, `${name}.${stores}`)
    await run('valgrind', ['--tool=cachegrind', '--cache-sim=no', `--cachegrind-out-file=${out}`, ...node, name, String(stores)], { maxBuffer: 1 << 26 })
    return out
  }

  // Where each function's instructions go, by the name valgrind gives it.
  const categories = [
    ['SHA-256 and Node\u2019s one-shot hash (OpenSSL, text to bytes, bytes to hex)', /sha256|SHA256|EVP_|evp_|OPENSSL|CRYPTO_|ossl_|ENGINE_|node::crypto|StringBytes|Utf8Value|WriteUtf8|ParseEncoding|malloc|free|memset|Isolate::GetCurrentContext|CallApiCallback/],
    ['garbage collector and write barriers', /Scaveng|Evacuat|Marking|MarkCompact|Sweeper|BodyDescriptor|SemiSpace|Pretenuring|LiveObjectRange|SizeFromMap|RecordWrite|WriteBarrier|Barrier|Heap::|heap::|Heap_|MemoryChunk|RememberedSet|SlotSet|Factory::AllocateRaw|AllocateRawWith/],
    ['strings: hashing for tables, joining, flattening, numbers to text', /String::ComputeAndSetRawHash|Flatten|WriteToFlat|StringAdd|StringEqual|Builtins_ToString|NumberToString|NewRawOneByteString|NewStringFromOneByte|StringSubstring|StringCharCodeAt|StringIndexOf|StringToLowerCase|StringPrototypeReplace|CopyChars|String::|StringFromCharCode/],
    ['Map tables (find, insert, grow)', /Builtins_Map|OrderedHash/],
    ['promises, await and microtasks', /Promise|Microtask|AsyncFunction|Await|Resume|Generator/],
    ['optimizing compiler', /compiler::|Turbofan|Pipeline|Deoptimiz/],
    ['JavaScript compiled by V8 (the library, the loop, Node\u2019s own JS)', /^\?\?\?:\?\?\?$/],
  ]
  const other = 'everything else (V8 builtins and runtime)'
  const perMiss = async (name) => {
    const [few, many] = await Promise.all([count(name, 3), count(name, 7)])
    const { stdout } = await run('sh', ['-c', `cg_diff "${few}" "${many}" > "${few}.diff" && cg_annotate --threshold=0 "${few}.diff"`], { maxBuffer: 1 << 26 })
    const totals = new Map()
    for (const line of stdout.split('\n')) {
      const match = /^\s*(-?[\d,]+)\s+\(\s*-?[\d.]+%\)\s+(.*)$/.exec(line)
      if (match === null || match[2].startsWith('PROGRAM TOTALS')) continue
      const n = Number(match[1].replaceAll(',', '')) / (4 * MISSES)
      const fn = match[2].replace(/ \[.*$/, '')
      const category = categories.find(([, pattern]) => pattern.test(fn))?.[0] ?? other
      totals.set(category, (totals.get(category) ?? 0) + n)
    }
    return totals
  }
  const results = new Map()
  for (const name of contenders) {
    process.stderr.write(`counting ${name}...\n`)
    results.set(name, await perMiss(name))
  }
  rmSync(dir, { recursive: true, force: true })

  const names = [...categories.map(([name]) => name), other]
  const sum = (totals) => [...totals.values()].reduce((a, b) => a + b, 0)
  const n = (x) => Math.round(x).toLocaleString('en-US')
  const row = (label, pick) => `| ${label} | ${contenders.map((name) => pick(results.get(name))).join(' | ')} |`
  const base = sum(results.get('function'))
  const lines = [
    real
      ? `Instructions per call on the users' shape, each contender's cache kept over 7 and 3 rounds of 50,000 new keys (node ${process.version}; 7 rounds minus 3):`
      : `Instructions per call, each contender's 50,000 cold misses per store (node ${process.version}; 7 stores minus 3):`,
    '',
    `| where | ${contenders.join(' | ')} |`,
    `| --- |${' ---: |'.repeat(contenders.length)}`,
    ...names.map((name) => row(name, (totals) => n(totals.get(name) ?? 0))),
    row('**all**', (totals) => `**${n(sum(totals))}**`),
    row('**over the function alone**', (totals) => `**${n(sum(totals) - base)}**`),
  ]
  console.log(lines.join('\n'))
}
