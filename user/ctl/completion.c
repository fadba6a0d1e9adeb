// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl completion bash|zsh|fish: a completion script written from the command
 * tables and the option tables the parsers parse with (ctl_cmd_flags), so it
 * knows what --help and the parser know: the commands, their subcommands, each one's
 * flags, and which flags take a value (skipped when finding the command
 * words, completed where there is something to offer). zsh runs the same
 * function through bashcompinit; fish a script of its own from the same
 * tables. The live names (nodes, pods, namespaces) are asked when completing:
 * xcnictl completion names, from the lab up.
 */
#include "ctl/ctl.h"
#include "lab/lab.h"
#include "lab/conntest.h"
#include "lab/state.h"
#include "lib/observe/flows.h"

/* The verdict words, the one table's (flow_verdict_name), space-separated. */
static void verdict_words(char *buf, size_t n)
{
	size_t off = 0;

	buf[0] = 0;
	for (int v = 0; v < FLOW_NR_VERDICTS && off < n; v++)
		off += (size_t)snprintf(buf + off, n - off, "%s%s", v ? " " : "", flow_verdict_name(v));
}

/*
 * The live names of kind (node, pod, namespace), one a line: the lab's up
 * (its nodes, NS/POD, namespaces); nothing when none is. 0 always: a
 * completion has nothing to say on error.
 */
static int live_names(const char *kind)
{
	struct lab lab;

	if (lab_conntest_no_lab() || lab_open(&lab, false))
		return 0;
	if (!strcmp(kind, "node"))
		for (size_t i = 0; i < lab.nnodes; i++)
			printf("%s\n", lab.nodes[i].name);
	for (size_t i = 0; i < lab.npods; i++) {
		bool seen = false;

		if (!strcmp(kind, "pod"))
			printf("%s/%s\n%s\n", lab.pods[i].ns, lab.pods[i].name, lab.pods[i].name);
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(lab.pods[j].ns, lab.pods[i].ns);
		if (!strcmp(kind, "namespace") && !seen)
			printf("%s\n", lab.pods[i].ns);
	}
	lab_close(&lab);
	return 0;
}

/* "list get" of a noun; the lab's commands for lab. */
static void subs_of(const struct ctl_ctx *x, const char *name, char *buf, size_t n)
{
	const struct cmd *const *t = x->tables;
	const struct cmd *cmd;
	const char *ln;
	size_t off = 0;

	buf[0] = 0;
	if (!strcmp(name, "lab")) {
		for (size_t k = 0; (ln = lab_cmd_name(k)) && off < n; k++)
			off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? " " : "", ln);
		return;
	}
	for (size_t i = 0; t[i]; i++)
		for (cmd = t[i]; cmd->name; cmd++)
			if (!strcmp(cmd->name, name) && cmd->sub && off < n)
				off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? " " : "",
							cmd->sub);
}

/* Whether cmd is the first of its name in the tables (nouns are listed once). */
static bool first_of_name(const struct ctl_ctx *x, const struct cmd *cmd)
{
	const struct cmd *const *t = x->tables;
	const struct cmd *c;

	for (size_t i = 0; t[i]; i++)
		for (c = t[i]; c->name; c++) {
			if (c == cmd)
				return true;
			if (!strcmp(c->name, cmd->name))
				return false;
		}
	return false;
}

static int bash_script(const struct ctl_ctx *x, FILE *f)
{
	const struct cmd *const *t = x->tables;
	const struct cmd *cmd;
	char flags[4096], subs[1024], verdicts[256];
	const char *ln;

	verdict_words(verdicts, sizeof(verdicts));
	fprintf(f, "# xcnictl completion, written by `xcnictl completion bash` from its command tables.\n"
		   "_xcnictl_flags() { # the flags of command \"$1 $2\"; \"=\" after those taking a value\n"
		   "\tcase \"$1 $2\" in\n");
	for (size_t i = 0; t[i]; i++)
		for (cmd = t[i]; cmd->name; cmd++) {
			if (!strcmp(cmd->name, "lab")) {
				for (size_t k = 0; (ln = lab_cmd_name(k)); k++) {
					x->cmd_flags(cmd, ln, flags, sizeof(flags));
					fprintf(f, "\t\"lab %s\") echo '%s' ;;\n", ln, flags);
				}
				continue;
			}
			x->cmd_flags(cmd, NULL, flags, sizeof(flags));
			fprintf(f, "\t\"%s %s\") echo '%s' ;;\n", cmd->name, cmd->sub ?: "", flags);
		}
	x->cmd_flags(&(struct cmd){ .name = "" }, NULL, flags, sizeof(flags));
	fprintf(f, "\t*) echo '%s' ;;\n\tesac\n}\n", flags);
	fprintf(f, "_xcnictl_subs() { # the second words of command $1\n\tcase \"$1\" in\n");
	for (size_t i = 0; t[i]; i++)
		for (cmd = t[i]; cmd->name; cmd++) {
			if (!first_of_name(x, cmd))
				continue;
			subs_of(x, cmd->name, subs, sizeof(subs));
			if (subs[0])
				fprintf(f, "\t%s) echo '%s' ;;\n", cmd->name, subs);
		}
	fprintf(f, "\tesac\n}\n");
	/* A command whose one argument is a choice ("bash|zsh"). */
	fprintf(f, "_xcnictl_args() { # the choices of command \"$1 $2\"'s argument\n\tcase \"$1 $2\" in\n");
	for (size_t i = 0; t[i]; i++)
		for (cmd = t[i]; cmd->name; cmd++)
			if (CMD_NARGS(cmd) >= 1 && strchr(cmd->args, '|') && !strpbrk(cmd->args, " []")) {
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
		   "\t\t--node | --from-node | --to-node) COMPREPLY=($(compgen -W \"all $(xcnictl completion names node 2>/dev/null)\" -- \"$cur\")) ;;\n"
		   "\t\t--pod | --from-pod | --to-pod) COMPREPLY=($(compgen -W \"$(xcnictl completion names pod 2>/dev/null)\" -- \"$cur\")) ;;\n"
		   "\t\t-n | --namespace | --from-namespace | --to-namespace) COMPREPLY=($(compgen -W \"$(xcnictl completion names namespace 2>/dev/null)\" -- \"$cur\")) ;;\n"
		   "\t\t-t | --type) COMPREPLY=($(compgen -W 'drop verdict trace' -- \"$cur\")) ;;\n"
		   "\t\t--verdict) COMPREPLY=($(compgen -W '%s' -- \"$cur\")) ;;\n"
		   "\t\t-f | --filename) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
		   "\t\tesac\n"
		   "\t\treturn 0\n"
		   "\tfi\n"
		   "\tif [[ $cur == -* ]]; then\n"
		   "\t\tCOMPREPLY=($(compgen -W \"${flags//=/}\" -- \"$cur\"))\n"
		   "\telif [[ -z $cmd ]]; then\n"
		   "\t\tCOMPREPLY=($(compgen -W '", verdicts);
	for (size_t i = 0, n = 0; t[i]; i++)
		for (cmd = t[i]; cmd->name; cmd++)
			if (first_of_name(x, cmd))
				fprintf(f, "%s%s", n++ ? " " : "", cmd->name);
	fprintf(f, "' -- \"$cur\"))\n"
		   "\telif [[ -z $sub && -n $(_xcnictl_subs \"$cmd\") ]]; then\n"
		   "\t\tCOMPREPLY=($(compgen -W \"$(_xcnictl_subs \"$cmd\")\" -- \"$cur\"))\n"
		   "\telse\n"
		   "\t\tCOMPREPLY=($(compgen -W \"$(_xcnictl_args \"$cmd\" \"$sub\")\" -- \"$cur\"))\n"
		   "\tfi\n"
		   "\treturn 0\n"
		   "}\n"
		   /* The user's aliases of xcnictl too (alias xc='xcnictl --node all'). */
		   "complete -o default -F _xcnictl xcnictl $(alias -p | sed -n \"s/^alias \\([^=]*\\)='xcnictl\\( .*\\)\\{0,1\\}'$/\\1/p\")\n");
	return fflush(f) == EOF || ferror(f) ? -EIO : 0;
}

/* fish: its own script from the same tables (commands, subcommands, flags, live names). */
static int fish_script(const struct ctl_ctx *x, FILE *f)
{
	const struct cmd *const *t = x->tables;
	const struct cmd *cmd;
	char flags[4096], subs[1024], verdicts[256];

	verdict_words(verdicts, sizeof(verdicts));
	fprintf(f, "# xcnictl completion, written by `xcnictl completion fish` from its command tables.\n"
		   "complete -c xcnictl -f\n");
	for (size_t i = 0; t[i]; i++)
		for (cmd = t[i]; cmd->name; cmd++) {
			if (!first_of_name(x, cmd))
				continue;
			subs_of(x, cmd->name, subs, sizeof(subs));
			fprintf(f, "complete -c xcnictl -n __fish_use_subcommand -a %s\n", cmd->name);
			if (subs[0])
				fprintf(f, "complete -c xcnictl -n '__fish_seen_subcommand_from %s' -a '%s'\n",
					cmd->name, subs);
		}
	x->cmd_flags(&(struct cmd){ .name = "" }, NULL, flags, sizeof(flags));
	for (char *w = strtok(flags, " "); w; w = strtok(NULL, " ")) {
		size_t l = strlen(w);
		bool arg = w[l - 1] == '=';

		if (strncmp(w, "--", 2))
			continue;
		w[l - arg] = 0;
		fprintf(f, "complete -c xcnictl -l %s%s\n", w + 2, arg ? " -r" : "");
	}
	fprintf(f, "complete -c xcnictl -l verdict -r -a '%s'\n"
		   "complete -c xcnictl -l node -r -a 'all (xcnictl completion names node 2>/dev/null)'\n"
		   "complete -c xcnictl -l pod -l from-pod -l to-pod -r -a '(xcnictl completion names pod 2>/dev/null)'\n"
		   "complete -c xcnictl -s n -l namespace -r -a '(xcnictl completion names namespace 2>/dev/null)'\n"
		   "complete -c xcnictl -s o -l output -r -a 'text wide json jsonl yaml'\n", verdicts);
	return fflush(f) == EOF || ferror(f) ? -EIO : 0;
}

static int cmd_completion(const struct ctl_ctx *c, char **argv)
{
	if (!strcmp(argv[0], "names"))
		return live_names(argv[1] ?: "");
	if (!strcmp(argv[0], "fish"))
		return fish_script(c, stdout);
	if (!strcmp(argv[0], "zsh"))
		printf("#compdef xcnictl\n"
		       "# zsh: the bash completion through bashcompinit. Load with\n"
		       "#   source <(xcnictl completion zsh)\n"
		       "autoload -U +X compinit && { (( $+functions[compdef] )) || compinit; }\n"
		       "autoload -U +X bashcompinit && bashcompinit\n");
	return bash_script(c, stdout);
}

static int check_shell(char **argv)
{
	if (!argv[0])
		pr_err("completion: which shell (bash, zsh or fish)\n");
	else if (!strcmp(argv[0], "names") ||
		 (!argv[1] && (!strcmp(argv[0], "bash") || !strcmp(argv[0], "zsh") ||
				!strcmp(argv[0], "fish"))))
		return 0;
	if (!argv[0])
		return -EINVAL;
	return pr_err_ret(-EINVAL, "completion %s: no such shell (bash, zsh or fish)\n", argv[0]);
}

const struct cmd completion_cmds[] = {
	{ "completion", NULL, cmd_completion, CMD_ARGS_UPTO(2), 0, "bash|zsh|fish",
	  "Write a shell completion script for bash, zsh or fish, from the command tables.",
	  check_shell },
	{}
};
