import { prepareTemplates } from './database.ts';

export default async function setup(): Promise<void> {
  await prepareTemplates();
}
