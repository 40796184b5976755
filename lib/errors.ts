/**
 * @module
 * The error classes that callers catch to tell bad input (exit 2, HTTP 4xx)
 * from a failed operation (exit 1, HTTP 5xx).
 */

/**
 * Bad input: a malformed file, flag, request or upload. The message names
 * what, where and how to fix it. `status` is the HTTP status to answer with.
 */
export class InputError extends Error {
  override name = "InputError";
  readonly status: number;
  constructor(message: string, options?: ErrorOptions & { status?: number }) {
    super(message, options);
    this.status = options?.status ?? 400;
  }
}

/** A named thing (service, release, key) that does not exist. */
export class NotFoundError extends InputError {
  override name = "NotFoundError";
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, status: 404 });
  }
}

/** True for errors that mean "the caller sent something wrong". */
export function isInputError(err: unknown): err is InputError {
  return err instanceof InputError;
}
