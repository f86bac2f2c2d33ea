# Seed tutorial 003, "os.fork() 和multiprocessing 的结合使用".
# Changed for the test: the child sleeps 0.2 s instead of 5 (args ('bob', 0.2)).
#!/usr/bin/python

# -*- coding: utf-8 -*-

from multiprocessing import Process
import os
import time

def sleeper(name, seconds):
    print("Process ID# %s" % (os.getpid()))  #获取当前进程
    print("Parent Process ID# %s" % (os.getppid()))  #获取当前进程的父进程
    print("%s will sleep for %s seconds" % (name, seconds))
    time.sleep(seconds)

child_proc = Process(target = sleeper, args = ('bob', 0.2))
child_proc.start()
print("in parent process after child process start")
print("parent process about to join child process")
child_proc.join()
print("in parent process after child process join" )
print("the parent's parent process: %s" % (os.getppid()))
