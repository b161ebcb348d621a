/** Whether `u` is a promise or a promise-like value (anything with a `then` method). */
export const isThenable = <T>(u: T | PromiseLike<T>): u is PromiseLike<T> =>
  typeof u === 'object' && u !== null && typeof (u as { then?: unknown }).then === 'function'
