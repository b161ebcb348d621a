// `npm run build && node bench/reoptimization.mjs`: how often V8 throws away the optimized code of the
// engine's call path while caches are made and dropped. It runs section 4 of `npm run bench` (cold
// misses; every round wraps a new function over a new store, and drops it) under `node --trace-deopt`
// and counts, for each of the engine's functions, the optimized code V8 marked for deoptimization.
//
// Section 4 makes 21 caches of ours (3 rows, 7 rounds). Code that embeds the objects of one cache
// dies with it, 21 times; code that holds only what outlives every cache (classes with one spare
// object each, see src/internal/spare.ts) survives, and the rounds after the first run optimized from
// their first calls. The counts go by function name, so a function of another library with the same
// name would count too; the section's other contender, async-cache-dedupe, has none of these.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const engine = ['runNow', 'lookup', 'hitNow', 'onMiss', 'miss', 'computeAndWrite', 'compute', 'write', 'kept']
const run = fileURLToPath(new URL('./run.mjs', import.meta.url))
const { stdout } = await promisify(execFile)(process.execPath, ['--trace-deopt', run, '--only=4'], { maxBuffer: 1 << 28 })

// `[marking dependent code ... (<SharedFunctionInfo lookup>) (opt id 31) for deoptimization, reason: weak objects]`
const marked = /<SharedFunctionInfo (\w+)>\) \(opt id \d+\) for deoptimization, reason: ([^\]]+)\]/
const counts = new Map(engine.map((name) => [name, new Map()]))
for (const line of stdout.split('\n')) {
  const match = marked.exec(line)
  const reasons = match === null ? undefined : counts.get(match[1])
  if (reasons !== undefined) reasons.set(match[2], (reasons.get(match[2]) ?? 0) + 1)
}

const total = (reasons) => [...reasons.values()].reduce((sum, n) => sum + n, 0)
console.log('Optimized code of the engine thrown away during section 4 (21 caches of ours made and dropped):\n')
console.log('| function | times | reasons |\n| --- | ---: | --- |')
for (const [name, reasons] of counts) {
  console.log(`| ${name} | ${total(reasons)} | ${[...reasons].map(([reason, n]) => `${reason} ${n}`).join(', ') || '-'} |`)
}
const overhead = stdout.split('\n').find((line) => line.startsWith('Overhead per miss'))
if (overhead !== undefined) console.log(`\n${overhead}`)
