// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl completion bash|zsh: a completion script written from the command
 * tables and the option table (xcnictl.c, lab.c's, flows'), so it knows what
 * --help and the parser know: the commands, their subcommands, each one's
 * flags, and which flags take a value (skipped when finding the command
 * words, completed where there is something to offer). zsh runs the same
 * function through bashcompinit.
 */
#include "ctl/ctl.h"
#include "lab/lab.h"

/* "list get" of a noun; the lab's commands for lab. */
static void subs_of(const char *name, char *buf, size_t n)
{
	const struct cmd *cmd;
	const char *ln;
	size_t off = 0;

	buf[0] = 0;
	if (!strcmp(name, "lab")) {
		for (size_t k = 0; (ln = lab_cmd_name(k)) && off < n; k++)
			off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? " " : "", ln);
		return;
	}
	for (size_t i = 0; ctl_tables[i]; i++)
		for (cmd = ctl_tables[i]; cmd->name; cmd++)
			if (!strcmp(cmd->name, name) && cmd->sub && off < n)
				off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? " " : "",
							cmd->sub);
}

/* Whether cmd is the first of its name in the tables (nouns are listed once). */
static bool first_of_name(const struct cmd *cmd)
{
	const struct cmd *c;

	for (size_t i = 0; ctl_tables[i]; i++)
		for (c = ctl_tables[i]; c->name; c++) {
			if (c == cmd)
				return true;
			if (!strcmp(c->name, cmd->name))
				return false;
		}
	return false;
}

static int bash_script(FILE *f)
{
	const struct cmd *cmd;
	char flags[4096], subs[1024];
	const char *ln;

	fprintf(f, "# xcnictl completion, written by `xcnictl completion bash` from its command tables.\n"
		   "_xcnictl_flags() { # the flags of command \"$1 $2\"; \"=\" after those taking a value\n"
		   "\tcase \"$1 $2\" in\n");
	for (size_t i = 0; ctl_tables[i]; i++)
		for (cmd = ctl_tables[i]; cmd->name; cmd++) {
			if (!strcmp(cmd->name, "lab")) {
				for (size_t k = 0; (ln = lab_cmd_name(k)); k++) {
					ctl_cmd_flags(cmd, ln, flags, sizeof(flags));
					fprintf(f, "\t\"lab %s\") echo '%s' ;;\n", ln, flags);
				}
				continue;
			}
			ctl_cmd_flags(cmd, NULL, flags, sizeof(flags));
			fprintf(f, "\t\"%s %s\") echo '%s' ;;\n", cmd->name, cmd->sub ?: "", flags);
		}
	ctl_cmd_flags(&(struct cmd){ .name = "" }, NULL, flags, sizeof(flags));
	fprintf(f, "\t*) echo '%s' ;;\n\tesac\n}\n", flags);
	fprintf(f, "_xcnictl_subs() { # the second words of command $1\n\tcase \"$1\" in\n");
	for (size_t i = 0; ctl_tables[i]; i++)
		for (cmd = ctl_tables[i]; cmd->name; cmd++) {
			if (!first_of_name(cmd))
				continue;
			subs_of(cmd->name, subs, sizeof(subs));
			if (subs[0])
				fprintf(f, "\t%s) echo '%s' ;;\n", cmd->name, subs);
		}
	fprintf(f, "\tesac\n}\n");
	/* A command whose one argument is a choice ("bash|zsh"). */
	fprintf(f, "_xcnictl_args() { # the choices of command \"$1 $2\"'s argument\n\tcase \"$1 $2\" in\n");
	for (size_t i = 0; ctl_tables[i]; i++)
		for (cmd = ctl_tables[i]; cmd->name; cmd++)
			if (cmd->nargs == 1 && strchr(cmd->args, '|') && !strpbrk(cmd->args, " []")) {
				snprintf(subs, sizeof(subs), "%s", cmd->args);
				for (char *p = subs; *p; p++)
					if (*p == '|')
						*p = ' ';
				fprintf(f, "\t\"%s %s\") echo '%s' ;;\n", cmd->name, cmd->sub ?: "", subs);
			}
	fprintf(f, "\tesac\n}\n");
	fprintf(f, "_xcnictl() {\n"
		   "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= sub= w i flags\n"
		   "\t((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
		   "\tCOMPREPLY=()\n"
		   "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
		   "\t\tw=${COMP_WORDS[i]}\n"
		   "\t\t[[ $w == -- ]] && return 0 # what follows is a command's own (lab exec)\n"
		   "\t\tif [[ $w == -?* ]]; then\n"
		   "\t\t\tflags=\" $(_xcnictl_flags \"$cmd\" \"$sub\") \"\n"
		   "\t\t\t[[ $w != *=* && $flags == *\" $w= \"* ]] && ((i++))\n"
		   "\t\t\tcontinue\n"
		   "\t\tfi\n"
		   "\t\tif [[ -z $cmd ]]; then cmd=$w\n"
		   "\t\telif [[ -z $sub && -n $(_xcnictl_subs \"$cmd\") ]]; then sub=$w\n"
		   "\t\tfi\n"
		   "\tdone\n"
		   "\tflags=\" $(_xcnictl_flags \"$cmd\" \"$sub\") \"\n"
		   "\tif [[ $prev == -?* && $prev != *=* && $flags == *\" $prev= \"* ]]; then\n"
		   "\t\tcase $prev in\n"
		   "\t\t-o | --output) COMPREPLY=($(compgen -W 'text wide json jsonl yaml' -- \"$cur\")) ;;\n"
		   "\t\t--pin-dir | --pin-dir-dst) COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
		   /* --node all: flows, monitor, explain, status and sysdump read every lab node. */
		   "\t\t--node) COMPREPLY=($(compgen -W 'all' -- \"$cur\")) ;;\n"
		   "\t\t-t | --type) COMPREPLY=($(compgen -W 'drop verdict trace' -- \"$cur\")) ;;\n"
		   "\t\t--verdict) COMPREPLY=($(compgen -W 'allowed denied audit forwarded' -- \"$cur\")) ;;\n"
		   "\t\t-f | --filename) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
		   "\t\tesac\n"
		   "\t\treturn 0\n"
		   "\tfi\n"
		   "\tif [[ $cur == -* ]]; then\n"
		   "\t\tCOMPREPLY=($(compgen -W \"${flags//=/}\" -- \"$cur\"))\n"
		   "\telif [[ -z $cmd ]]; then\n"
		   "\t\tCOMPREPLY=($(compgen -W '");
	for (size_t i = 0, n = 0; ctl_tables[i]; i++)
		for (cmd = ctl_tables[i]; cmd->name; cmd++)
			if (first_of_name(cmd))
				fprintf(f, "%s%s", n++ ? " " : "", cmd->name);
	fprintf(f, "' -- \"$cur\"))\n"
		   "\telif [[ -z $sub && -n $(_xcnictl_subs \"$cmd\") ]]; then\n"
		   "\t\tCOMPREPLY=($(compgen -W \"$(_xcnictl_subs \"$cmd\")\" -- \"$cur\"))\n"
		   "\telse\n"
		   "\t\tCOMPREPLY=($(compgen -W \"$(_xcnictl_args \"$cmd\" \"$sub\")\" -- \"$cur\"))\n"
		   "\tfi\n"
		   "\treturn 0\n"
		   "}\n"
		   "complete -o default -F _xcnictl xcnictl\n");
	return fflush(f) == EOF || ferror(f) ? -EIO : 0;
}

static int cmd_completion(const struct ctl_ctx *c, char **argv)
{
	(void)c;
	if (!strcmp(argv[0], "zsh"))
		printf("#compdef xcnictl\n"
		       "# zsh: the bash completion through bashcompinit. Load with\n"
		       "#   source <(xcnictl completion zsh)\n"
		       "autoload -U +X compinit && { (( $+functions[compdef] )) || compinit; }\n"
		       "autoload -U +X bashcompinit && bashcompinit\n");
	return bash_script(stdout);
}

static int check_shell(char **argv)
{
	if (!strcmp(argv[0], "bash") || !strcmp(argv[0], "zsh"))
		return 0;
	pr_err("completion %s: no such shell (bash or zsh)\n", argv[0]);
	return -EINVAL;
}

const struct cmd completion_cmds[] = {
	{ "completion", NULL, cmd_completion, 1, 0, "bash|zsh",
	  "Write a shell completion script for bash or zsh, from the command tables.\n\n"
	  "  source <(xcnictl completion bash)    this shell\n"
	  "  xcnictl completion bash > /etc/bash_completion.d/xcnictl\n"
	  "  source <(xcnictl completion zsh)     zsh (through bashcompinit)",
	  check_shell },
	{}
};
