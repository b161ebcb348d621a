// The benchmark harness: interleaved repetitions, medians with their min and max, ratios against a
// baseline measured in the same run. Nothing here is timed itself.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import vm from 'node:vm'

v8.setFlagsFromString('--expose-gc')
/** A full collection, so that one contender's garbage is not collected during the next one's run. */
export const collect = vm.runInNewContext('gc')

export const quick = process.argv.includes('--quick')

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

export const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

/** Runs `reps` rounds; in each round every contender runs once, in a rotated order. */
export const interleaved = async (contenders, reps, runOnce) => {
  const results = new Map(contenders.map((contender) => [contender.name, []]))
  for (let rep = 0; rep < reps; rep++) {
    const order = contenders.map((_, i) => contenders[(i + rep) % contenders.length])
    for (const contender of order) {
      collect()
      results.get(contender.name).push(await runOnce(contender))
    }
  }
  return results
}

/** Sequential async calls for `ms` milliseconds: operations per second. */
export const throughput = async (fn, ms) => {
  let ops = 0
  const started = performance.now()
  const deadline = started + ms
  while (performance.now() < deadline) {
    for (let i = 0; i < 64; i++) await fn(ops++)
  }
  return (ops / (performance.now() - started)) * 1000
}

/** `concurrency` workers, each making sequential calls, for `ms`: rate, latency percentiles, CPU per call. */
export const load = async (fn, { concurrency, ms }) => {
  const latencies = []
  let ops = 0
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const deadline = started + ms
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now()
        await fn(ops++)
        latencies.push(performance.now() - t)
      }
    }),
  )
  const elapsed = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  latencies.sort((a, b) => a - b)
  return {
    rps: (latencies.length / elapsed) * 1000,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    cpuUs: (cpu.user + cpu.system) / latencies.length,
  }
}

export const summary = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) })

export const fmt = (n, digits = 0) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(digits)

export const table = (headers, rows) =>
  [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n')

/** The test sidecar in its own process, steered over IPC, so client and server share no event loop. */
export const sidecarProcess = async () => {
  const child = fork(fileURLToPath(new URL('./sidecar-process.mjs', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const pending = new Map()
  let next = 0
  child.on('message', (message) => {
    pending.get(message.id)?.(message)
    pending.delete(message.id)
  })
  const ask = (command, args = {}) =>
    new Promise((resolve) => {
      const id = next++
      pending.set(id, resolve)
      child.send({ id, command, ...args })
    })
  const { url } = await ask('start')
  return {
    url,
    ask,
    close: async () => {
      await ask('close')
      child.disconnect()
    },
  }
}
