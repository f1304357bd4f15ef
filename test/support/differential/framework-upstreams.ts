/**
 * The real frameworks of the differential suite, each with its default routing, mounted as
 * a plain `(request, response)` listener: Express 5 with method-override, Hono through
 * @hono/node-server, Fastify 5 and Koa 3 with @koa/router. Each registers every handler
 * the way an application written for it would.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener, type HttpBindings } from "@hono/node-server";
import Router, { type RouterMiddleware } from "@koa/router";
import express, { type RequestHandler } from "express";
import fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import methodOverride from "method-override";
import { HANDLERS, type HitLog } from "./handlers";

export type UpstreamListener = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** Express 5 defaults (case-insensitive, non-strict) plus method-override by header and `_method` query. */
export function expressUpstream(log: HitLog): UpstreamListener {
  const app = express();
  app.use(methodOverride("X-HTTP-Method-Override"));
  app.use(methodOverride("_method"));
  for (const handler of HANDLERS) {
    const serve: RequestHandler = (request, response) => {
      response.json(log.hit("express", handler.id, request.method, request));
    };
    if (handler.method === "GET") app.get(handler.route, serve);
    else if (handler.method === "POST") app.post(handler.route, serve);
    else app.delete(handler.route, serve);
  }
  return app;
}

/** Hono's defaults: its router, its percent-decoding, GET handlers for HEAD. */
export function honoUpstream(log: HitLog): UpstreamListener {
  const app = new Hono<{ Bindings: HttpBindings }>();
  for (const handler of HANDLERS) {
    app.on(handler.method, handler.route, (context) =>
      context.json(log.hit("hono", handler.id, context.req.method, context.env.incoming)),
    );
  }
  return getRequestListener(app.fetch);
}

/** Fastify 5's defaults (find-my-way, automatic HEAD routes), driven through `routing`. */
export async function fastifyUpstream(log: HitLog): Promise<UpstreamListener> {
  const app = fastify();
  for (const handler of HANDLERS) {
    app.route({
      method: handler.method,
      url: handler.route,
      handler: async (request) => log.hit("fastify", handler.id, request.method, request.raw),
    });
  }
  await app.ready();
  return (request, response) => app.routing(request, response);
}

/** Koa 3 with @koa/router's defaults (case-insensitive, trailing slash optional, HEAD for GET). */
export function koaUpstream(log: HitLog): UpstreamListener {
  const app = new Koa();
  app.silent = true;
  const router = new Router();
  for (const handler of HANDLERS) {
    const serve: RouterMiddleware = (context) => {
      context.body = log.hit("koa", handler.id, context.method, context.req);
    };
    if (handler.method === "GET") router.get(handler.route, serve);
    else if (handler.method === "POST") router.post(handler.route, serve);
    else router.delete(handler.route, serve);
  }
  app.use(router.routes()).use(router.allowedMethods());
  return app.callback();
}
