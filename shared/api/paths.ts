/**
 * The path parameters of the API's routes, one schema per template shape: `{integrationId}`, `…/{dataType}` (reference
 * data and sources) and `…/connections/{connectionId}`. Every area's routes validate with these (and the OpenAPI
 * document names them from here).
 */
import { z } from "zod";
import { connectionIdSchema, dataTypeSchema, integrationIdSchema } from "../domain/ids.js";

export const integrationPathSchema = z.object({ integrationId: integrationIdSchema });
export const dataTypePathSchema = z.object({ integrationId: integrationIdSchema, dataType: dataTypeSchema });
export const connectionPathSchema = z.object({ integrationId: integrationIdSchema, connectionId: connectionIdSchema });
