# Seed tutorial 003, "进程池 代码示例一".
# Changed for the test: func sleeps random.random()*0.1 s instead of *4.
#encoding:utf-8

import multiprocessing
import os
import time
import random

def func(x):
    time.sleep(random.random()*0.1)
    print ("pid:",os.getpid(),x*x)
    #print (os.getppid())
    return x*x

if __name__=="__main__":
    pool=multiprocessing.Pool(multiprocessing.cpu_count())
    i_list=range(8)
    print (pool.map(func,i_list))
