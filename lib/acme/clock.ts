/**
 * @module
 * The time source of certificate renewal, so tests can move time instead of
 * waiting for it (the daemon's one `Clock`, lib/clock.ts).
 */
export { type Clock, realClock } from "../clock.ts";
