import { Column, Entity, PrimaryColumn } from "typeorm";
import { epochMs } from "../columns";
import type { EventType } from "../../core/model";

/** The primary key (execution_id, seq) is also the index that `after_seq` reads use. */
@Entity({ name: "events" })
export class EventEntity {
  @PrimaryColumn({ name: "execution_id", type: "varchar", length: 36 })
  executionId: string;

  @PrimaryColumn({ type: "integer" })
  seq: number;

  @Column({ type: "bigint", transformer: epochMs })
  ts: number;

  @Column({ type: "varchar", length: 20 })
  type: EventType;

  /** The typed payload as JSON text ({text}, {level,text}, {type,preview,json}…). */
  @Column({ type: "text" })
  payload: string;
}
