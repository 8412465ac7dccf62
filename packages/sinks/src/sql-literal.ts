/** A SQL string literal, quotes doubled (DuckDB and GoogleSQL alike). */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
