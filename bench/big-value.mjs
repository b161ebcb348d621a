// `npm run build && node bench/big-value.mjs`: what reading an oversized answer costs. A server (in a
// child process, so its buffers are not counted) answers every GET with 300 MB of base64, announced
// or chunked; the Dapr store reads it with the default maxValueBytes (3 MiB). Prints the time the
// read took, its result, and how much the client's resident memory grew at its peak.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { daprStore } from 'dapr-state-cache'

if (process.argv[2] === 'serve') {
  const { createServer } = await import('node:http')
  const announce = process.argv[3] === 'announced'
  const chunk = Buffer.alloc(64 * 1024, 'A')
  const server = createServer((request, response) => {
    request.resume()
    response.writeHead(200, { 'content-type': 'application/json', ...(announce ? { 'content-length': String(300 * 1024 * 1024) } : {}) })
    let written = 0
    const pump = () => {
      while (!response.destroyed && written < 300 * 1024 * 1024) {
        written += chunk.length
        if (!response.write(chunk)) return void response.once('drain', pump)
      }
      if (!response.destroyed) response.end()
    }
    pump()
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
} else {
  for (const mode of ['announced', 'chunked']) {
    const child = fork(fileURLToPath(import.meta.url), ['serve', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const { port } = await new Promise((resolve) => child.once('message', resolve))
    const store = daprStore({ daprUrl: `http://127.0.0.1:${port}`, env: {}, breaker: false, timeoutMs: 30_000 })
    globalThis.gc?.()
    const before = process.memoryUsage().rss
    let peak = before
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 2)
    const started = performance.now()
    const result = await store.get('big')()
    const ms = performance.now() - started
    clearInterval(sampler)
    peak = Math.max(peak, process.memoryUsage().rss)
    console.log(
      `${mode.padEnd(9)} 300 MB answer: ${result._tag === 'Left' ? result.left.code : 'read'} after ${ms.toFixed(1)} ms; client RSS grew by ${((peak - before) / 2 ** 20).toFixed(1)} MiB at its peak (maxValueBytes 3 MiB)`,
    )
    await store.close()
    child.kill()
  }
}
