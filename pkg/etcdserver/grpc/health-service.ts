/** grpc.health.v1.Health: SERVING for "" (all of etcd's services), as etcd registers it. */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { PfsError } from "../../common/index.js";
import { type WireMessage, WireFieldError } from "../wire-fields.js";
import { type ServiceKit, unaryCall } from "./service-kit.js";

function serviceName(wire: WireMessage): string {
  const value = wire["service"] ?? "";
  if (typeof value !== "string") throw new WireFieldError("service is not a string");
  return value;
}

/** The Health service implementation for grpc-js. */
export function healthService(kit: ServiceKit): UntypedServiceImplementation {
  const label = { service: "grpc.health.v1.Health", method: "Check", type: "unary" } as const;
  return {
    Check: unaryCall(kit, label, (wire) => {
      if (serviceName(wire) !== "") {
        return Promise.reject(new PfsError("NOT_FOUND", "unknown service"));
      }
      return Promise.resolve({ status: "SERVING" });
    }, { learnerAllowed: () => true }),
  };
}
