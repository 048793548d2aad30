/** The four permissions an API key can carry. A session (the admin user) has all four. */
export const PERMISSIONS = ['invoke', 'read', 'write', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];
