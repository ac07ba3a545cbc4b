import type { FastifyInstance } from 'fastify';
import { AppError } from '@reusable-chat/core';

/** Deeper than any legitimate payload; stops pathological nesting before it reaches validation (V-06). */
const MAX_JSON_DEPTH = 32;

/**
 * JSON bodies are parsed here instead of by Fastify's default so that input PostgreSQL cannot store is
 * refused at the edge with a registry code (V-04, V-05): NUL characters and lone UTF-16 surrogates
 * (`"\ud800"` parses in JavaScript but is not valid Unicode). `__proto__` keys are refused (V-07).
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json(\s*;.*)?$/i, { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      done(new AppError('malformed_request', 'The request body is not valid JSON.'), undefined);
      return;
    }
    const problem = mayHideUnsafeValue(text) ? findUnsafeValue(parsed) : null;
    if (problem) {
      done(new AppError(problem.code, problem.message, { path: problem.path }), undefined);
      return;
    }
    done(null, parsed);
  });
}

/**
 * Whether the parsed value must be walked at all, decided on the text (a few native substring scans, no
 * allocation — the walk allocates per key and value, measurable on the message send path). Exact: JSON cannot
 * carry a NUL or a lone surrogate except as a `\u` escape (control characters must be escaped and the text is
 * decoded UTF-8), a forbidden key needs its name in the text, and nesting deeper than MAX_JSON_DEPTH needs more
 * than MAX_JSON_DEPTH opening brackets.
 */
export function mayHideUnsafeValue(text: string): boolean {
  if (text.includes('\\u') || text.includes('__proto__') || text.includes('constructor') || text.includes('prototype')) return true;
  return countUpTo(text, '{', MAX_JSON_DEPTH + 1) + countUpTo(text, '[', MAX_JSON_DEPTH + 1) > MAX_JSON_DEPTH;
}

function countUpTo(text: string, char: string, limit: number): number {
  let n = 0;
  for (let i = text.indexOf(char); i >= 0 && n < limit; i = text.indexOf(char, i + 1)) n += 1;
  return n;
}

interface Problem {
  code: 'malformed_request' | 'validation_failed';
  message: string;
  path: string;
}

/** Iterative walk: a recursive one could itself overflow on hostile nesting. */
export function findUnsafeValue(root: unknown): Problem | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: root, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (depth > MAX_JSON_DEPTH) {
      return { code: 'malformed_request', message: `JSON nesting deeper than ${MAX_JSON_DEPTH} levels.`, path };
    }
    if (typeof value === 'string') {
      const p = stringProblem(value);
      if (p) return { code: 'validation_failed', message: p, path };
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push({ value: v, path: `${path}[${i}]`, depth: depth + 1 }));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === '__proto__' || k === 'constructor' || k === 'prototype') {
          return { code: 'validation_failed', message: `The key "${k}" is not allowed.`, path };
        }
        const kp = stringProblem(k);
        if (kp) return { code: 'validation_failed', message: kp, path };
        stack.push({ value: v, path: path ? `${path}.${k}` : k, depth: depth + 1 });
      }
    }
  }
  return null;
}

function stringProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'NUL characters are not allowed.';
  if (!s.isWellFormed()) return 'Strings must be well-formed Unicode (no lone surrogates).';
  return null;
}
