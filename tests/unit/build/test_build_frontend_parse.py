"""Dockerfile parsing: directives, continuations, heredocs, forms of each instruction, errors with lines."""

from __future__ import annotations

import pytest

from dockyard.build.dockerfile import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Heredoc,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    parse,
    parse_instruction,
)
from dockyard.errors import DockerfileError


def cmds(text: str) -> tuple[object, ...]:
    return parse(text).stages[-1].commands


def test_stages_meta_args_and_directives() -> None:
    df = parse("# syntax=docker/dockerfile:1.7\nARG V=1 W\nfrom --platform=$BUILDPLATFORM alpine:${V} As Build\n"
               "RUN true\nFROM scratch\n")
    assert df.syntax == "docker/dockerfile:1.7"
    assert df.escape == "\\"
    assert df.meta_args == (Arg(2, "ARG V=1 W", (("V", "1"), ("W", None))),)
    s0, s1 = df.stages
    assert (s0.index, s0.name, s0.base, s0.platform, s0.line) == (0, "build", "alpine:${V}", "$BUILDPLATFORM", 3)
    assert (s1.index, s1.name, s1.base, s1.platform, s1.commands) == (1, None, "scratch", None, ())
    assert df.stage("BUILD") is s0
    assert df.stage("1") is s1
    with pytest.raises(DockerfileError, match='target stage "nope" could not be found'):
        df.stage("nope")


def test_continuations_comments_and_empty_lines() -> None:
    (run,) = cmds("FROM a\nRUN echo a \\\n  # inner comment\n\n    b \\  \n c\n")
    assert isinstance(run, Run)
    assert run.command == ("echo a     b  c",)
    assert run.original == "RUN echo a     b  c"
    assert run.line == 2
    df = parse("FROM a\nRUN x \\\n\n y\n")
    assert any("Empty continuation line" in w for w in df.warnings)


def test_escape_directive_backtick() -> None:
    df = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  x\nCOPY a\\b c:\\d\n")
    assert df.escape == "`"
    run, copy = df.stages[0].commands
    assert isinstance(run, Run) and run.command == ("dir c:\\   x",)
    assert isinstance(copy, Copy) and copy.sources == ("a\\b",) and copy.dest == "c:\\d"


def test_directives_only_at_top() -> None:
    df = parse("FROM a\n# escape=`\nRUN a \\\n b\n")
    assert df.escape == "\\"
    run = df.stages[0].commands[0]
    assert isinstance(run, Run) and run.command == ("a  b",)
    with pytest.raises(DockerfileError, match="only one escape parser directive") as e:
        parse("# escape=`\n# escape=\\\nFROM a\n")
    assert e.value.line == 2
    with pytest.raises(DockerfileError, match="invalid escape token"):
        parse("# escape=x\nFROM a\n")


def test_run_forms_and_flags() -> None:
    run1, run2, run3 = cmds(
        'FROM a\nRUN ["echo", "x y"]\nRUN [not json\n'
        "RUN --mount=type=cache,target=/c --mount=type=secret,id=s --network=none --security=insecure ls -l\n"
    )
    assert isinstance(run1, Run) and run1.command == ("echo", "x y") and not run1.shell_form
    assert isinstance(run2, Run) and run2.command == ("[not json",) and run2.shell_form
    assert isinstance(run3, Run)
    assert run3.mounts == ("type=cache,target=/c", "type=secret,id=s")
    assert (run3.network, run3.security, run3.command) == ("none", "insecure", ("ls -l",))


def test_json_array_of_non_strings_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="arrays must be comprised of strings only") as e:
        parse("FROM a\n\nCMD [1, 2]\n")
    assert e.value.line == 3


def test_heredocs_in_run() -> None:
    (run,) = cmds(
        "FROM a\nRUN <<EOF 3<<-'END' cat\n#!/usr/bin/env python3\nprint($X)\nEOF\n\t\tquoted $X\n\tEND\n"
    )
    assert isinstance(run, Run)
    assert run.command == ("<<EOF 3<<-'END' cat",)
    assert run.heredocs == (
        Heredoc("EOF", "#!/usr/bin/env python3\nprint($X)\n", expand=True, chomp=False),
        Heredoc("END", "quoted $X\n", expand=False, chomp=True),
    )


def test_heredocs_in_copy_and_errors() -> None:
    copy, after = cmds('FROM a\nCOPY <<one <<"two" x /dst/\n1\none\n2\ntwo\nRUN true\n')
    assert isinstance(copy, Copy)
    assert copy.sources == ("x",)
    assert copy.heredocs == (Heredoc("one", "1\n", True, False), Heredoc("two", "2\n", False, False))
    assert isinstance(after, Run) and after.line == 7
    with pytest.raises(DockerfileError, match="unterminated heredoc") as e:
        parse("FROM a\nRUN <<EOF\nno end\n")
    assert e.value.line == 2
    with pytest.raises(DockerfileError, match="cannot accept a heredoc as a destination"):
        parse("FROM a\nCOPY x <<EOF\nEOF\n")
    (json_run,) = cmds('FROM a\nRUN ["cat", "<<EOF"]\n')
    assert isinstance(json_run, Run) and json_run.heredocs == ()


def test_copy_and_add_flags() -> None:
    copy, add = cmds(
        "FROM a\nCOPY --from=build --chown=1:2 --chmod=0755 --link --parents --exclude=*.md --exclude=x a b /d/\n"
        "ADD --checksum=sha256:abc --keep-git-dir=true --unpack=false --link=false https://x/y.tar /z\n"
    )
    assert copy == Copy(2, copy.original, ("a", "b"), "/d/", "build", "1:2", "0755", True, ("*.md", "x"), True)
    assert isinstance(add, Add)
    assert (add.checksum, add.keep_git_dir, add.unpack, add.link) == ("sha256:abc", True, False, False)
    assert add.sources == ("https://x/y.tar",)
    (j,) = cmds('FROM a\nCOPY ["a b", "/c d/"]\n')
    assert isinstance(j, Copy) and j.sources == ("a b",) and j.dest == "/c d/"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("COPY --frm=x a b", "unknown flag: frm"),
        ("COPY --from a b", "missing a value on flag: from"),
        ("COPY --from=a --from=b a b", "duplicate flag specified: from"),
        ("COPY --link=maybe a b", "expecting boolean value for flag link, not: maybe"),
        ("COPY a", "COPY requires at least two arguments"),
        ("ENV --x=1 a=b", "unknown flag: x"),
        ("RUN --from=x ls", "unknown flag: from"),
        ("ADD --from=x a b", "unknown flag: from"),
        ("USER", "USER requires exactly one argument"),
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("ENV", "ENV requires at least one argument"),
        ("ENV a", "ENV must have two arguments"),
        ("ENV a=b c", "Syntax error - can't find = in \"c\""),
        ("LABEL", "LABEL requires at least one argument"),
        ("ARG", "ARG requires at least one argument"),
        ("ARG =x", "ARG names can not be blank"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("VOLUME", "VOLUME requires at least one argument"),
        ('VOLUME ["a", " "]', "VOLUME specified can not be an empty string"),
        ("SHELL sh -c", "SHELL requires the arguments to be in JSON form"),
        ("SHELL []", "SHELL requires at least one argument"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK RUN x", 'Unknown type "RUN" in HEALTHCHECK'),
        ("HEALTHCHECK --interval=1us CMD x", 'Interval "interval" cannot be less than 1ms'),
        ("HEALTHCHECK --timeout=abc CMD x", 'time: invalid duration "abc"'),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative"),
        ("HEALTHCHECK --bogus=1 CMD x", "unknown flag: bogus"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD MAINTAINER x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("FOO bar", "unknown instruction: FOO"),
        ("FROM a b", "FROM requires either one or three arguments"),
        ("FROM a AS 1x", "invalid name for build stage"),
        ("FROM --plat=x a", "unknown flag: plat"),
        ("RUN echo ${", ""),
    ],
)
def test_errors_name_file_and_line(line: str, message: str) -> None:
    text = f"FROM base\n# a comment\n{line}\n"
    if line.startswith("RUN echo ${"):
        parse(text)  # RUN is not expanded by the parser
        return
    with pytest.raises(DockerfileError) as e:
        parse(text, "sub/Dockerfile.dev")
    assert e.value.path == "sub/Dockerfile.dev"
    assert e.value.line == 3
    assert message in e.value.reason
    assert str(e.value).startswith("sub/Dockerfile.dev:3: ")


def test_structural_errors() -> None:
    with pytest.raises(DockerfileError, match="file with no instructions"):
        parse("# only\n\n")
    with pytest.raises(DockerfileError, match="no build stage in current context") as e:
        parse("ARG x\nRUN true\nFROM a\n")
    assert e.value.line == 2
    with pytest.raises(DockerfileError, match='duplicate stage name "a"') as e:
        parse("FROM x AS a\nFROM y AS A\n")
    assert e.value.line == 2


def test_metadata_instructions() -> None:
    commands = cmds(
        "FROM a\n"
        'ENV A=1 B="two words" C=x\\ y\n'
        "ENV LEGACY some value here\n"
        'LABEL "com.x"="v" b=c\n'
        "WORKDIR /app/$X\n"
        "user app:grp\n"
        "EXPOSE 80/tcp 53/udp\n"
        'ENTRYPOINT ["/bin/tini", "--"]\n'
        "CMD run --fast\n"
        "VOLUME /a /b\n"
        'VOLUME ["/c"]\n'
        "STOPSIGNAL SIGKILL\n"
        'SHELL ["/bin/bash", "-c"]\n'
        "MAINTAINER Someone <s@x>\n"
        "HEALTHCHECK --interval=5m --timeout=3s --start-period=1.5s --start-interval=500ms --retries=3 \\\n"
        "  CMD curl -f http://localhost/ || exit 1\n"
        'HEALTHCHECK CMD ["/bin/check", "x"]\n'
        "HEALTHCHECK NONE\n"
        "ENTRYPOINT\n"
    )
    assert [type(c) for c in commands] == [Env, Env, Label, Workdir, User, Expose, Entrypoint, Cmd, Volume, Volume,
                                            StopSignal, Shell, Maintainer, Healthcheck, Healthcheck, Healthcheck,
                                            Entrypoint]
    env, legacy, label, wd, user, expose, ep, cmd, v1, v2, sig, sh, mnt, hc, hc2, hc3, ep2 = commands
    assert isinstance(env, Env) and env.pairs == (("A", "1"), ("B", '"two words"'), ("C", "x\\ y"))
    assert isinstance(legacy, Env) and legacy.pairs == (("LEGACY", "some value here"),)
    assert isinstance(label, Label) and label.pairs == (('"com.x"', '"v"'), ("b", "c"))
    assert isinstance(wd, Workdir) and wd.path == "/app/$X"
    assert isinstance(user, User) and user.user == "app:grp"
    assert isinstance(expose, Expose) and expose.ports == ("80/tcp", "53/udp")
    assert isinstance(ep, Entrypoint) and ep.command == ("/bin/tini", "--") and not ep.shell_form
    assert isinstance(cmd, Cmd) and cmd.command == ("run --fast",) and cmd.shell_form
    assert isinstance(v1, Volume) and v1.paths == ("/a", "/b")
    assert isinstance(v2, Volume) and v2.paths == ("/c",)
    assert isinstance(sig, StopSignal) and sig.signal == "SIGKILL"
    assert isinstance(sh, Shell) and sh.command == ("/bin/bash", "-c")
    assert isinstance(mnt, Maintainer) and mnt.name == "Someone <s@x>"
    assert isinstance(hc, Healthcheck)
    assert hc.test == ("CMD-SHELL", "curl -f http://localhost/ || exit 1")
    assert (hc.interval, hc.timeout, hc.start_period, hc.start_interval, hc.retries) == (
        300 * 10**9, 3 * 10**9, 1_500_000_000, 500_000_000, 3)
    assert hc.line == 15
    assert isinstance(hc2, Healthcheck) and hc2.test == ("CMD", "/bin/check", "x") and hc2.interval is None
    assert isinstance(hc3, Healthcheck) and hc3.test is None
    assert isinstance(ep2, Entrypoint) and ep2.command == ()


def test_case_insensitive_keywords_and_bom() -> None:
    df = parse("\ufeffFrOm a\nrUn true\n")
    assert isinstance(df.stages[0].commands[0], Run)


def test_onbuild_and_parse_instruction() -> None:
    (ob, ob2) = cmds("FROM a\nONBUILD RUN echo hi\nonbuild COPY <<EOF /x\nbody\nEOF\n")
    assert isinstance(ob, Onbuild) and ob.expression == "RUN echo hi"
    assert isinstance(ob2, Onbuild) and ob2.expression == "COPY <<EOF /x\nbody\nEOF"
    trigger = parse_instruction(ob2.expression)
    assert isinstance(trigger, Copy) and trigger.heredocs == (Heredoc("EOF", "body\n", True, False),)
    assert parse_instruction("RUN echo hi") == Run(1, "RUN echo hi", ("echo hi",), True)
    with pytest.raises(DockerfileError, match="unknown instruction: BOGUS"):
        parse_instruction("BOGUS x")
    with pytest.raises(DockerfileError, match="FROM isn't allowed"):
        parse_instruction("FROM x")


def test_escaped_escape_is_not_a_continuation() -> None:
    run, after = cmds("FROM a\nRUN echo a\\\\\nRUN b\n")
    assert isinstance(run, Run) and run.command == ("echo a\\\\",)
    assert isinstance(after, Run) and after.line == 3
    (lone,) = cmds("FROM a\nRUN a \\\n\\\nb\n")
    assert isinstance(lone, Run) and lone.command == ("a b",)


def test_crlf_line_endings() -> None:
    (run,) = cmds("FROM a\r\nRUN a \\\r\n b\r\n")
    assert isinstance(run, Run) and run.command == ("a  b",)
