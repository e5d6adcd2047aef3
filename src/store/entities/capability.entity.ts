import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { epochMs, jsonText } from "../columns";

@Entity({ name: "capabilities" })
@Index("idx_capabilities_template", ["templateId", "createdAt"])
export class CapabilityEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id: string;

  @Column({ name: "template_id", type: "varchar", length: 36 })
  templateId: string;

  @Column({ type: "varchar", length: 20 })
  kind: string;

  @Column({ type: "varchar", length: 200 })
  name: string;

  @Column({ type: "boolean" })
  enabled: boolean;

  @Column({ type: "text", transformer: jsonText })
  config: Record<string, unknown>;

  @Column({ name: "created_at", type: "bigint", transformer: epochMs })
  createdAt: number;
}
