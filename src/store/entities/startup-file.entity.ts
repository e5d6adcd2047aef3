import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { epochMs } from "../columns";

@Entity({ name: "startup_files" })
@Index("idx_startup_files_template", ["templateId", "orderIndex"])
export class StartupFileEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id: string;

  @Column({ name: "template_id", type: "varchar", length: 36 })
  templateId: string;

  @Column({ type: "text" })
  path: string;

  @Column({ name: "order_index", type: "integer" })
  orderIndex: number;

  @Column({ type: "varchar", length: 20 })
  mode: string;

  @Column({ name: "created_at", type: "bigint", transformer: epochMs })
  createdAt: number;
}
