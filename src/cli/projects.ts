// `dsjobs project ...`
import { Command } from 'commander';
import { details, err, type Column } from './output.js';
import { client, compartment, idOf, print, listTable } from './context.js';

export const PROJECT_COLS: Column[] = [
  { key: 'id', header: 'ID' },
  { key: 'displayName', header: 'NAME', min: 10 },
  { key: 'lifecycleState', header: 'STATE' },
  { key: 'timeCreated', header: 'CREATED' },
];

export function addProjectCommands(program: Command): void {
  const project = program.command('project').description('projects');
  project
    .command('create')
    .description('create a project in the compartment')
    .requiredOption('--name <name>')
    .option('--description <text>')
    .action(async (o, cmd) => {
      const { api, g } = client(cmd);
      const p = await api.createProject({ compartmentId: await compartment(api, g), displayName: o.name, description: o.description });
      print(g, p, () => details(p));
    });
  project.command('list').description('list active projects').action(async (_o, cmd) => {
    const { api, g } = client(cmd);
    const compartmentId = await compartment(api, g);
    const items: unknown[] = [];
    for await (const p of api.all((page) => api.listProjects({ compartmentId, page, lifecycleState: 'ACTIVE' }))) items.push(p);
    print(g, items, () => listTable(g, items as Record<string, unknown>[], PROJECT_COLS));
  });
  project.command('get <project>').description('show a project (by OCID or name)').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const p = await api.getProject(await idOf(api, g, 'project', ref));
    print(g, p, () => details(p));
  });
  project
    .command('update <project>')
    .description("change a project's name or description")
    .option('--name <name>')
    .option('--description <text>')
    .action(async (ref, o, cmd) => {
      const { api, g } = client(cmd);
      const p = await api.updateProject(await idOf(api, g, 'project', ref), { displayName: o.name, description: o.description });
      print(g, p, () => details(p));
    });
  project.command('delete <project>').description('delete a project (it must have no jobs)').action(async (ref, _o, cmd) => {
    const { api, g } = client(cmd);
    const id = await idOf(api, g, 'project', ref);
    await api.deleteProject(id);
    err(`project ${id} deleted`);
  });
}
