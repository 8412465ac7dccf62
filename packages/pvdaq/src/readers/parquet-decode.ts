import { BadInputError } from '@pv-pipeline/core';
import type * as arrow from 'apache-arrow';
import { parseTable } from 'arrow-js-ffi';
import * as pw from 'parquet-wasm/node';

/**
 * Decodes a whole Parquet object into an Arrow table (parquet-wasm, i.e. the
 * Rust arrow-rs reader compiled to WebAssembly). The columns are copied out of
 * WebAssembly memory through the Arrow C data interface (arrow-js-ffi), not
 * serialized to Arrow IPC and parsed again. A corrupt or truncated file is a
 * BadInputError naming `key`.
 */
export function decodeParquet(key: string, bytes: Uint8Array): arrow.Table {
  return decodeWith(key, bytes, true, (table) => table);
}

/**
 * Decodes a whole Parquet object as {@link decodeParquet} does, but without
 * copying its columns out of WebAssembly memory: `use` gets a table whose
 * buffers are views into that memory and must copy whatever it keeps. The
 * views hold only until `use` returns (the decoded table is then freed), and
 * `use` must not call into parquet-wasm (memory growth would detach them).
 * Errors that `use` throws pass through as they are.
 */
export function withParquetTable<T>(key: string, bytes: Uint8Array, use: (table: arrow.Table) => T): T {
  return decodeWith(key, bytes, false, use);
}

function decodeWith<T>(key: string, bytes: Uint8Array, copy: boolean, use: (table: arrow.Table) => T): T {
  if (bytes.length === 0) throw new BadInputError(key, 'empty object (0 bytes)');
  if (bytes.length < 12 || !isParquetMagic(bytes)) {
    throw new BadInputError(key, 'not a Parquet file (no PAR1 magic at start and end; corrupt or truncated)');
  }
  let ffi: pw.FFIStream;
  try {
    ffi = pw.readParquet(bytes).intoFFI();
  } catch (err) {
    throw corrupt(key, err);
  }
  try {
    let table: arrow.Table;
    try {
      table = parseTable(pw.wasmMemory().buffer, ffi.arrayAddrs(), ffi.schemaAddr(), copy);
    } catch (err) {
      throw corrupt(key, err);
    }
    // outside the catch above: the caller's own errors pass through as they are
    return use(table);
  } finally {
    ffi.drop();
  }
}

function corrupt(key: string, err: unknown): BadInputError {
  return new BadInputError(key, `corrupt Parquet: ${String((err as Error)?.message ?? err).split('\n')[0]}`, err);
}

function isParquetMagic(b: Uint8Array): boolean {
  const n = b.length;
  // "PAR1" at both ends
  return (
    b[0] === 0x50 &&
    b[1] === 0x41 &&
    b[2] === 0x52 &&
    b[3] === 0x31 &&
    b[n - 4] === 0x50 &&
    b[n - 3] === 0x41 &&
    b[n - 2] === 0x52 &&
    b[n - 1] === 0x31
  );
}

/** Rows of a small table as plain objects (numbers for int64, strings as they are). */
export function tableToObjects(table: arrow.Table): Array<Record<string, unknown>> {
  const names = table.schema.fields.map((f) => f.name);
  const cols = names.map((n) => table.getChild(n)!);
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) {
      let v = cols[c]!.get(i) as unknown;
      if (typeof v === 'bigint') v = Number(v);
      row[names[c]!] = v;
    }
    out.push(row);
  }
  return out;
}
