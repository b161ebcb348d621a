// Every test file runs with this: an unhandled promise rejection anywhere fails the test in which
// it surfaced, so a background write that rejects unobserved can never pass unnoticed.
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}
process.on('unhandledRejection', onUnhandled)

afterEach(async () => {
  // Rejections are reported after the microtask queue drains; give them one macrotask to arrive.
  await new Promise((resolve) => setImmediate(resolve))
  if (unhandled.length > 0) {
    const reasons = unhandled.splice(0).map((reason) => (reason instanceof Error ? reason.stack : String(reason)))
    throw new Error(`unhandled promise rejection(s):\n${reasons.join('\n')}`)
  }
})

afterAll(() => {
  process.off('unhandledRejection', onUnhandled)
})
