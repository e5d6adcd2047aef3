import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { epochMs, jsonText } from "../columns";
import type { TemplateSettings } from "../../core/model";

@Entity({ name: "templates" })
@Index("idx_templates_created", ["createdAt", "id"])
export class TemplateEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id: string;

  @Column({ type: "varchar", length: 200 })
  name: string;

  @Column({ type: "varchar", length: 50 })
  engine: string;

  @Column({ name: "settings", type: "text", transformer: jsonText })
  settings: TemplateSettings;

  @Column({ name: "created_at", type: "bigint", transformer: epochMs })
  createdAt: number;

  @Column({ name: "updated_at", type: "bigint", transformer: epochMs })
  updatedAt: number;
}
