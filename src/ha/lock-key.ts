/** The HA lock's key; its record's value holds only public facts (`{"id","api_addr"}`). */
export const LOCK_KEY = "core/lock";
