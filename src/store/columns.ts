import { ValueTransformer } from "typeorm";

/**
 * Times are stored as epoch milliseconds in a BIGINT: the same column type,
 * ordering and precision on SQLite and PostgreSQL (whose driver returns
 * BIGINT as a string, hence the transformer).
 */
export const epochMs: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};

/** JSON documents live in TEXT columns so both dialects read them alike. */
export const jsonText: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? null : JSON.stringify(value)),
  from: (value: string | null) => (value === null || value === undefined ? null : JSON.parse(value)),
};
