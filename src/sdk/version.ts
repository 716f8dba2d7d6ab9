/** Reported in sys/health, sys/seal-status and the banner. */
export const VERSION = "0.1.0";
