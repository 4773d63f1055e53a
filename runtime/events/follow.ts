/**
 * Follow a Director's event stream (documents and the Director's own events) without keeping them: one callback
 * per message. Used by `donki events` and the monitor server.
 */
import * as zmq from "zeromq";
import { Packr } from "msgpackr";
import { type CurveClientConfig, useCurveClient } from "../transport/curve.ts";

const unpackr = new Packr({ useRecords: false, mapsAsObjects: true });

export interface StreamMessage {
  topic: string;
  body: Record<string, unknown> & { type: string };
}

export class EventFollower {
  private readonly sock = new zmq.Subscriber();
  private closed = false;
  readonly done: Promise<void>;

  constructor(endpoint: string, onMessage: (m: StreamMessage) => void, curve?: CurveClientConfig) {
    useCurveClient(this.sock, curve);
    this.sock.linger = 0;
    this.sock.connect(endpoint);
    this.sock.subscribe();
    this.done = (async () => {
      while (!this.closed) {
        let frames: Buffer[];
        try {
          frames = await this.sock.receive();
        } catch {
          if (this.closed) return;
          continue;
        }
        try {
          onMessage({ topic: frames[0].toString(), body: unpackr.unpack(frames[1]) });
        } catch {
          // a malformed message is dropped; the stream goes on
        }
      }
    })();
  }

  close(): void {
    this.closed = true;
    this.sock.close();
  }
}
