/** The one presence scheduler of the process, shared by every node so windows are shared and survive redeploys. */
import { PresenceScheduler } from "./limiter";
import { decideFailure } from "./policy";

export const presenceScheduler = new PresenceScheduler({
  decide: decideFailure,
  onCallbackError: (error) => {
    process.emitWarning(`zoom-presence: a node callback threw: ${error instanceof Error ? error.message : String(error)}`);
  },
});
