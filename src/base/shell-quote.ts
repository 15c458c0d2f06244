/**
 * shell-quote.ts — one word for /bin/sh: single quotes, each ' written as '\''.
 * Used wherever metainit generates a shell script (container launch, policy-rc.d, the LSB hook).
 */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
