import { Column, Entity, PrimaryColumn } from "typeorm";

/**
 * Events are stored a page at a time: one row holds a run of consecutive
 * events of one execution (one recorder batch, up to 2,000) whose seq runs
 * from `first_seq` to `last_seq`, in the `encoded` column (the events as the
 * transport sends them; migration 1764500000000, only raw SQL touches it);
 * pages stored before it hold a JSON array of `[ts, payload]` pairs.
 * A row per event cost ~2 µs of B-tree work each on SQLite and ~10 µs on
 * PostgreSQL, the limit on persisted events/s; a page costs about one row.
 * The key (execution_id, last_seq) finds the page holding any `after_seq + 1`
 * with one index seek. Written and read by event-pages.ts.
 */
@Entity({ name: "event_pages" })
export class EventPageEntity {
  @PrimaryColumn({ name: "execution_id", type: "varchar", length: 36 })
  executionId: string;

  @PrimaryColumn({ name: "last_seq", type: "integer" })
  lastSeq: number;

  @Column({ name: "first_seq", type: "integer" })
  firstSeq: number;

  /** `[[ts, {type, ...payload}], …]` for seq first_seq…last_seq; empty on a page stored encoded. */
  @Column({ type: "text" })
  events: string;
}
