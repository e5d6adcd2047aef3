import { Column, Entity, PrimaryColumn } from "typeorm";
import { epochMs } from "../columns";

@Entity({ name: "template_libraries" })
export class TemplateLibraryEntity {
  @PrimaryColumn({ name: "template_id", type: "varchar", length: 36 })
  templateId: string;

  @PrimaryColumn({ type: "varchar", length: 100 })
  name: string;

  @Column({ type: "varchar", length: 50 })
  version: string;

  @Column({ name: "created_at", type: "bigint", transformer: epochMs })
  createdAt: number;
}
