"""Turning unexpected exceptions into one Chinese sentence for the user (no traceback)."""

from __future__ import annotations


def user_message(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return f"没有权限访问：{exc.filename}。请检查目录权限。"
    if isinstance(exc, FileNotFoundError):
        return f"找不到文件或目录：{exc.filename}。"
    if isinstance(exc, OSError):
        return f"读写文件出错：{exc.strerror or exc}（{getattr(exc, 'filename', '') or ''}）。"
    return f"程序内部错误（{type(exc).__name__}）。请加 --debug 重新运行并把输出发给维护人员。"
