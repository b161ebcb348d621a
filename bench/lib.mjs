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

/**
 * One replica process (the tests' replica, `test/replicas/replica.js`, on the built package in
 * dist/), answering over IPC: `ask(message)` gives its answer, `kill()` ends it.
 */
export const replicaProcess = (config) =>
  new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL('../test/replicas/replica.js', import.meta.url))
    const lib = fileURLToPath(new URL('../dist/cjs/index.js', import.meta.url))
    const child = fork(script, [], { env: { ...process.env, REPLICA_LIB: lib, REPLICA_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let next = 0
    const waiting = new Map()
    const ask = (message) =>
      new Promise((ok) => {
        const requestId = ++next
        waiting.set(requestId, ok)
        child.send({ ...message, requestId })
      })
    child.once('error', reject)
    child.on('message', (message) => {
      if (message.type === 'ready') resolve({ ask, kill: () => child.kill('SIGKILL') })
      else {
        waiting.get(message.requestId)?.(message)
        waiting.delete(message.requestId)
      }
    })
  })

/** A free loopback port (free when asked; a server may take it before it is used). */
export const freePort = async () => {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** The test sidecar in its own process, steered over IPC, so client and server share no event loop. */
export const sidecarProcess = async (flavour = 'in-memory') => {
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
  const { url } = await ask('start', { flavour })
  return {
    url,
    ask,
    close: async () => {
      await ask('close')
      child.disconnect()
    },
  }
}

// A 15-field object, as a typical cached row.
export const row = (i) => ({
  id: i, sku: `sku-${i}`, name: `Product number ${i}`, price: 19.99 + i, currency: 'EUR', stock: i % 17, active: i % 2 === 0,
  tags: ['a', 'b', 'c'], createdAt: '2026-01-02T03:04:05Z', rating: 4.5, vendor: 'acme', weight: 1.25, color: 'blue', size: 'M', notes: null,
})

/** `count` distinct 4-byte views, the i-th holding i: the bytes an identity serializer hands out. */
export const byteViews = (count) => {
  const slab = new Uint32Array(count)
  return Array.from({ length: count }, (_, i) => {
    slab[i] = i
    return new Uint8Array(slab.buffer, 4 * i, 4)
  })
}

/**
 * A serializer that keeps values by reference, so the engine's own cost shows: the bytes of the
 * n-th value it is given are `views[n]`, the n-th of views made before any timed code (a view is
 * never handed out twice by one serializer, and never written, as the Serializer contract asks).
 * Past the views given (or without any), it allocates new bytes per value, as a real serializer does.
 */
export const identitySerializer = (views = []) => {
  // It starts with one object so that it holds objects from the first push: an array made empty
  // holds small integers until then, and a new serializer's first push would throw away the
  // optimized code of the engine's write (where `serialize` is inlined) once per store.
  const values = [null]
  return {
    serialize: (value) => {
      const n = values.length - 1
      values.push(value)
      return views[n] ?? new Uint8Array(Uint32Array.of(n).buffer)
    },
    deserialize: (bytes) => values[1 + new Uint32Array(bytes.buffer, bytes.byteOffset, 1)[0]],
  }
}

/** A small row's bytes, written under `hit:0` ... `hit:<count - 1>` for an hour, 256 at a time. */
export const seedHits = async (store, count) => {
  const value = Buffer.from(JSON.stringify({ id: 1, name: 'a row of fifteen fields or so', tags: ['x', 'y'] }))
  for (let i = 0; i < count; i += 256) await Promise.all(Array.from({ length: Math.min(256, count - i) }, (_, j) => store.set(`hit:${i + j}`, value, 3600)()))
}
