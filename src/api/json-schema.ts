import { z } from "zod";

/**
 * A zod schema as JSON Schema (draft 2020-12, as OpenAPI 3.1 uses), from the
 * side a client writes (`io: "input"`: defaults make a field optional). A
 * schema whose check zod cannot express (a transform, a custom check) carries
 * its JSON Schema in its metadata, `.meta({ jsonSchema })`, which stands in
 * for whatever zod would have written.
 */
export function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema }) => {
      const given = z.globalRegistry.get(zodSchema)?.jsonSchema;
      if (!given || typeof given !== "object") return;
      for (const key of Object.keys(jsonSchema)) delete (jsonSchema as Record<string, unknown>)[key];
      Object.assign(jsonSchema, given);
    },
  });
  return json;
}
